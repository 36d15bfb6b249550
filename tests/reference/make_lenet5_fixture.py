#!/usr/bin/python3
"""End-to-end reference: one forward and backward of LeNet-5 (the model of
shared/bench/torch_ref.py) computed by PyTorch in float64, for tests/test_reference_lenet5.cpp.

    /usr/bin/python3 tests/reference/make_lenet5_fixture.py

Weights and images follow formulas that the C++ test evaluates too (nothing but the results
is stored): parameter k, element i is sin(0.7 i + 1.3 k) / sqrt(fan_in); image element j of
the batch is (sin(0.05 j) + 1) / 2. Writes tests/reference/lenet5/{logits,loss,<param>}.npy.
"""
import math
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent / "lenet5"
# name, shape, fan_in: in the order of LeNet5.named_parameters()
PARAMETERS = [
    ("c1.weight", (6, 1, 5, 5), 25), ("c1.bias", (6,), 25),
    ("c2.weight", (16, 6, 5, 5), 150), ("c2.bias", (16,), 150),
    ("f1.weight", (120, 400), 400), ("f1.bias", (120,), 400),
    ("f2.weight", (84, 120), 120), ("f2.bias", (84,), 120),
    ("f3.weight", (10, 84), 84), ("f3.bias", (10,), 84),
]
LABELS = [3, 1, 4, 1]


def parameter(k, shape, fan_in):
    i = np.arange(math.prod(shape), dtype=np.float64)
    values = np.sin(0.7 * i + 1.3 * k) / math.sqrt(fan_in)
    return torch.tensor(values.reshape(shape), dtype=torch.float64, requires_grad=True)


def main():
    params = {name: parameter(k, shape, fan_in) for k, (name, shape, fan_in) in enumerate(PARAMETERS)}
    j = np.arange(len(LABELS) * 28 * 28, dtype=np.float64)
    x = torch.tensor(((np.sin(0.05 * j) + 1) / 2).reshape(len(LABELS), 1, 28, 28))
    p = params
    h = F.max_pool2d(F.relu(F.conv2d(x, p["c1.weight"], p["c1.bias"], padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["c2.weight"], p["c2.bias"])), 2)
    h = F.relu(F.linear(h.flatten(1), p["f1.weight"], p["f1.bias"]))
    h = F.relu(F.linear(h, p["f2.weight"], p["f2.bias"]))
    logits = F.linear(h, p["f3.weight"], p["f3.bias"])
    loss = F.cross_entropy(logits, torch.tensor(LABELS))
    loss.backward()
    OUT.mkdir(exist_ok=True)
    np.save(OUT / "logits.npy", logits.detach().numpy())
    np.save(OUT / "loss.npy", np.array(loss.item()))
    for name, tensor in params.items():
        np.save(OUT / f"{name}.grad.npy", tensor.grad.numpy())
    print(f"loss {loss.item():.12f}; wrote {len(params) + 2} arrays to {OUT}")


if __name__ == "__main__":
    main()
