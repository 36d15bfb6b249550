#!/usr/bin/env python3
"""Reads a tapegrad checkpoint with nothing but json and numpy (the safetensors layout by hand)
and checks what write_known_checkpoint wrote. Exit status 0 when every value matches."""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
EXPECTED_SHAPES = {
    "conv.weight": [3, 2, 3, 3], "conv.bias": [3], "fc.weight": [5, 4], "fc.bias": [5],
}


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<"))
        tensors[name] = array.reshape(entry["shape"])
    return tensors, metadata


def main():
    tensors, metadata = read(sys.argv[1])
    failures = []
    for name, shape in EXPECTED_SHAPES.items():
        if name not in tensors:
            failures.append(f"{name} missing")
            continue
        t = tensors[name]
        expected = ((np.arange(t.size) % 97) * 0.25 - 12).astype(np.float32).reshape(shape)
        if t.dtype != np.float32 or list(t.shape) != shape or not np.array_equal(t, expected):
            failures.append(f"{name}: {t.dtype} {list(t.shape)} differs from the formula")
    for name in EXPECTED_SHAPES:
        buffer = tensors.get(f"optimizer.{list(EXPECTED_SHAPES).index(name)}.momentum_buffer")
        if buffer is None or buffer.shape != tensors[name].shape or np.any(buffer != 0):
            failures.append(f"momentum buffer of {name} missing or not zero")
    if float(tensors["optimizer.lr"]) != 0.01:
        failures.append(f"optimizer.lr is {tensors['optimizer.lr']}")
    if metadata.get("epoch") != "3" or metadata.get("step") != "42" or metadata.get("optimizer") != "SGD":
        failures.append(f"metadata {metadata}")
    for failure in failures:
        print("read_safetensors.py:", failure, file=sys.stderr)
    print(f"read {len(tensors)} tensors and metadata {metadata} from {sys.argv[1]} with json + numpy")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
