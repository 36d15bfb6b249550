#!/usr/bin/python3
"""PyTorch twin of examples/resnet: the same small ResNet (same layers, order, initialisation
scheme and state_dict names), the same data, augmentation, optimizer, schedule and protocol, and
the same per-epoch line on stdout, so that accuracy over seeds and img/s can be set side by side
(bench/compare_resnet.sh does):
    epoch 1 train_s 61.20 img_per_s 980 loss 0.5012 test_acc 0.8563
Usage: resnet_torch.py [--data DIR] [--epochs 15] [--batch 128] [--lr 0.1] [--momentum 0.9]
                       [--weight-decay 5e-4] [--nesterov] [--warmup 0] [--blocks 2]
                       [--no-augment] [--threads 2] [--seed 0] [--limit N] [--log metrics.csv]
                       [--save model.pt]
examples/resnet/evaluate_in_pytorch.py imports the model and the data handling from here.

What cannot be the same: the random numbers. PyTorch draws the initial weights, the shuffle and
the crops and flips from its own generator, so a seed gives a different (equally distributed) run
in each framework; compare means over seeds, not single runs."""
import argparse
import gzip
import os
import struct
import sys
import time

# One BLAS thread is PyTorch's fastest configuration on this machine (see bench/torch_ref.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Fashion-MNIST's training-set pixel mean and standard deviation (of byte / 255), as the example's
# Normalize uses them.
MEAN, STD = 0.2860, 0.3530
CROP_PADDING = 2


class BasicBlock(nn.Module):
    """out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is x, or a 1x1
    convolution and a BatchNorm (downsample) where the block changes the shape."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    """examples/resnet/models.hpp: conv 16, 3 stages of `blocks` BasicBlocks (16, 32, 64 channels,
    strides 1, 2, 2), global average pooling, fc 64 -> 10. PyTorch's default initialisation, as
    tapegrad's layers have it."""

    def __init__(self, blocks=2, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, 16, 1, blocks)
        self.layer2 = self._stage(16, 32, 2, blocks)
        self.layer3 = self._stage(32, 64, 2, blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    @staticmethod
    def _stage(in_channels, out_channels, stride, blocks):
        rest = [BasicBlock(out_channels, out_channels, 1) for _ in range(blocks - 1)]
        return nn.Sequential(BasicBlock(in_channels, out_channels, stride), *rest)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def read_idx(directory, stem):
    """An unsigned-byte IDX file of `directory`, raw or .gz (as tapegrad's MNIST finds it)."""
    for suffix in ("", ".gz"):
        path = os.path.join(directory, stem + suffix)
        if os.path.exists(path):
            with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
                raw = f.read()
            dims = struct.unpack(">" + "I" * raw[3], raw[4:4 + 4 * raw[3]])
            return np.frombuffer(raw[4 + 4 * raw[3]:], dtype=np.uint8).reshape(dims)
    sys.exit(f"no {stem} in {directory}: run scripts/fetch_data.sh first")


def load_split(directory, split):
    """Images [N,1,28,28] as float32 byte / 255 (tapegrad's MNIST divides as float too), labels."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte")
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255)).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def normalize(x):
    return (x - MEAN) / STD


def augment(x):
    """torchvision's RandomCrop(28, padding=2) and RandomHorizontalFlip() of each image, on a
    whole batch at once: zero padding (before normalisation, so padded pixels are black), an
    offset in [0, 2 * padding] per image and axis, a flip with probability 1/2."""
    n, _, h, w = x.shape
    padded = F.pad(x, (CROP_PADDING,) * 4)
    top = torch.randint(0, 2 * CROP_PADDING + 1, (n, 1, 1))
    left = torch.randint(0, 2 * CROP_PADDING + 1, (n, 1, 1))
    rows = top + torch.arange(h).view(1, h, 1)
    cols = left + torch.arange(w).view(1, 1, w)
    flip = torch.rand(n, 1, 1) < 0.5
    cols = torch.where(flip, left + (w - 1) - torch.arange(w).view(1, 1, w), cols)
    return padded[torch.arange(n).view(n, 1, 1), 0, rows, cols].unsqueeze(1)


def make_schedule(optimizer, epochs, warmup):
    """Cosine annealing to 0 over the epochs, after `warmup` epochs rising linearly from lr/10."""
    if warmup == 0:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    return torch.optim.lr_scheduler.SequentialLR(
        optimizer, [torch.optim.lr_scheduler.LinearLR(optimizer, 0.1, 1.0, warmup),
                    torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs - warmup)],
        [warmup])


def evaluate(model, x, y, batch=1000):
    """The number of test images whose arg-max logit is their label, in evaluation mode."""
    model.eval()
    with torch.no_grad():
        correct = sum((model(normalize(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum().item()
                      for i in range(0, len(x), batch))
    model.train()
    return correct


def write_log(path, rows):
    """The whole CSV rewritten to a temporary file renamed over `path`, as the example writes it."""
    temporary = f"{path}.tmp.{os.getpid()}"
    with open(temporary, "w") as f:
        f.write("epoch,loss,accuracy,lr,img_per_s\n" + "".join(row + "\n" for row in rows))
    os.replace(temporary, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--nesterov", action="store_true")
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--no-augment", dest="augment", action="store_false")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--log", default="")
    ap.add_argument("--save", default="", help="the state_dict after the last epoch (torch.save)")
    a = ap.parse_args()
    if not 0 <= a.warmup < a.epochs:
        ap.error(f"--warmup {a.warmup} must be in [0, --epochs)")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x_train, y_train = load_split(a.data, "train")
    x_test, y_test = load_split(a.data, "test")
    if a.limit:
        x_train, y_train = x_train[:a.limit], y_train[:a.limit]
    model = ResNet(a.blocks)
    print(f"ResNet: 3 stages of {a.blocks} BasicBlocks, "
          f"{sum(p.numel() for p in model.parameters())} parameters; training images: "
          f"{'crop, flip, normalize' if a.augment else 'normalize'}", file=sys.stderr)
    optimizer = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum,
                                weight_decay=a.weight_decay, nesterov=a.nesterov)
    schedule = make_schedule(optimizer, a.epochs, a.warmup)
    n = len(x_train)
    rows = []
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(n)
        start = time.perf_counter()
        loss_sum = 0.0
        for i in range(0, n, a.batch):
            index = order[i:i + a.batch]
            x = x_train[index]
            x = normalize(augment(x) if a.augment else x)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y_train[index])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(index)
        train_s = time.perf_counter() - start
        correct = evaluate(model, x_test, y_test)
        lr = optimizer.param_groups[0]["lr"]
        accuracy, loss = correct / len(x_test), loss_sum / n
        print(f"epoch {epoch} train_s {train_s:.2f} img_per_s {n / train_s:.0f} loss {loss:.4f} "
              f"test_acc {accuracy:.4f}", flush=True)
        print(f"epoch {epoch}: {correct} of {len(x_test)} test images right, lr {lr:.6g}",
              file=sys.stderr, flush=True)
        if a.log:
            rows.append(f"{epoch},{loss:.6f},{accuracy:.4f},{lr:.6g},{n / train_s:.1f}")
            write_log(a.log, rows)
        schedule.step()
    if a.save:
        torch.save(model.state_dict(), a.save)


if __name__ == "__main__":
    main()
