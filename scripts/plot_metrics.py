#!/usr/bin/python3
"""Draws training curves from the per-epoch CSV files the examples write with --log (and
bench/resnet_torch.py with --log): training loss, test accuracy, learning rate and img/s against
the epoch, one line per file, into a PNG.
    /usr/bin/python3 scripts/plot_metrics.py tapegrad.csv pytorch.csv --out curves.png
        [--labels tapegrad PyTorch] [--title "ResNet on Fashion-MNIST"]
Each file's line is labelled with its name (without .csv) unless --labels gives one per file.
Needs matplotlib (Debian: python3-matplotlib)."""
import argparse
import csv
import os
import sys

COLUMNS = ["epoch", "loss", "accuracy", "lr", "img_per_s"]
PANELS = [("loss", "training loss"), ("accuracy", "test accuracy"), ("lr", "learning rate"),
          ("img_per_s", "training img/s")]


def read_metrics(path):
    """The columns of a metrics CSV as lists of floats; exits with a message naming the file and
    line for anything else."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        sys.exit(f"plot_metrics: {path}: {e.strerror}")
    if not rows or rows[0] != COLUMNS:
        sys.exit(f"plot_metrics: {path}: the first line is not {','.join(COLUMNS)}")
    columns = {name: [] for name in COLUMNS}
    for number, row in enumerate(rows[1:], start=2):
        try:
            values = [float(v) for v in row]
        except ValueError:
            values = []
        if len(values) != len(COLUMNS):
            sys.exit(f"plot_metrics: {path}: line {number} is not {len(COLUMNS)} numbers: {row}")
        for name, value in zip(COLUMNS, values):
            columns[name].append(value)
    if not columns["epoch"]:
        sys.exit(f"plot_metrics: {path}: no epochs in the file")
    return columns


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="+", help="metrics files written with --log")
    ap.add_argument("--out", required=True, help="the PNG to write")
    ap.add_argument("--labels", nargs="+", help="one label per file (default: the file names)")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    if a.labels and len(a.labels) != len(a.csv):
        ap.error(f"--labels gives {len(a.labels)} labels for {len(a.csv)} files")
    labels = a.labels or [os.path.splitext(os.path.basename(p))[0] for p in a.csv]
    runs = [(label, read_metrics(path)) for label, path in zip(labels, a.csv)]

    import matplotlib  # only once the input is known to be good: it takes a second to import
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for axis, (column, title) in zip(axes.flat, PANELS):
        for label, metrics in runs:
            axis.plot(metrics["epoch"], metrics[column], marker="o", markersize=3, label=label)
        axis.set_title(title)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
    for axis in axes[1]:
        axis.set_xlabel("epoch")
    axes[0][0].legend(fontsize="small")
    if a.title:
        figure.suptitle(a.title)
    figure.tight_layout()
    # Written beside the target and renamed, as the logs are: a reader never sees half a PNG.
    temporary = f"{a.out}.tmp.{os.getpid()}.png"
    try:
        figure.savefig(temporary, dpi=100)
        os.replace(temporary, a.out)
    except OSError as e:
        sys.exit(f"plot_metrics: cannot write {a.out}: {e.strerror}")
    epochs = max(len(metrics["epoch"]) for _, metrics in runs)
    print(f"plot_metrics: {len(runs)} runs, {epochs} epochs -> {a.out}")


if __name__ == "__main__":
    main()
