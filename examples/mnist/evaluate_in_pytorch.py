#!/usr/bin/python3
"""Loads a tapegrad LeNet-5 checkpoint into PyTorch's LeNet5 (the model of bench/torch_ref.py)
and prints its accuracy on a test set: the safetensors file is read with json + numpy alone,
and the parameter names are PyTorch's state_dict names.
    /usr/bin/python3 examples/mnist/evaluate_in_pytorch.py CHECKPOINT [DATA_DIR]"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    return {name: np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]],
                                dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
            for name, e in header.items()}


def read_idx(path):
    """An unsigned-byte IDX file, raw or .gz (the other one of the two that exists)."""
    if not os.path.exists(path):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    dims = struct.unpack(">" + "I" * raw[3], raw[4:4 + 4 * raw[3]])
    return np.frombuffer(raw[4 + 4 * raw[3]:], dtype=np.uint8).reshape(dims)


class LeNet5(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 6, 5, padding=2); s.c2 = nn.Conv2d(6, 16, 5)
        s.f1 = nn.Linear(400, 120); s.f2 = nn.Linear(120, 84); s.f3 = nn.Linear(84, 10)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2); x = F.max_pool2d(F.relu(s.c2(x)), 2)
        x = x.flatten(1); x = F.relu(s.f1(x)); x = F.relu(s.f2(x)); return s.f3(x)


def main():
    checkpoint = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 2 else "data/mnist"
    tensors = read_safetensors(checkpoint)
    model = LeNet5()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()
                           if not k.startswith("optimizer.")})
    images = read_idx(os.path.join(data, "t10k-images-idx3-ubyte"))
    labels = torch.from_numpy(read_idx(os.path.join(data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    x = torch.from_numpy(images.astype(np.float32) / 255.).unsqueeze(1)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == labels).float().mean().item()
    print(f"PyTorch {torch.__version__} accuracy of {checkpoint}: {accuracy:.4f}")


if __name__ == "__main__":
    main()
