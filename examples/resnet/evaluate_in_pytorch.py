#!/usr/bin/python3
"""Loads a tapegrad ResNet checkpoint (examples/resnet --save) into the PyTorch twin's ResNet
(bench/resnet_torch.py), BatchNorm buffers included (running_mean, running_var,
num_batches_tracked), evaluates it in eval mode on the test set with the example's normalisation,
and prints its accuracy, which is the test_acc tapegrad printed for that epoch:
    /usr/bin/python3 examples/resnet/evaluate_in_pytorch.py CHECKPOINT [DATA_DIR]
    PyTorch 1.13.1 accuracy of CHECKPOINT: 0.9012 (9012 of 10000)
The safetensors file is read with json + numpy alone; its names are the twin's state_dict names,
and load_state_dict(strict=True) refuses a file that misses one or has one more."""
import json
import os
import re
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import resnet_torch  # noqa: E402

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    return {name: np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]],
                                dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
            .reshape(e["shape"])
            for name, e in header.items()}


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    checkpoint = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 2 else "data/fashion-mnist"
    state = {name: torch.from_numpy(array.copy())
             for name, array in read_safetensors(checkpoint).items()
             if not name.startswith("optimizer.")}
    # The depth the checkpoint was trained with (--blocks): the blocks of the first stage.
    blocks = len({m.group(1) for name in state for m in [re.match(r"layer1\.(\d+)\.", name)] if m})
    model = resnet_torch.ResNet(blocks)
    model.load_state_dict(state, strict=True)
    x, y = resnet_torch.load_split(data, "test")
    correct = resnet_torch.evaluate(model, x, y)
    print(f"PyTorch {torch.__version__} accuracy of {checkpoint}: {correct / len(y):.4f} "
          f"({correct} of {len(y)})")


if __name__ == "__main__":
    main()
