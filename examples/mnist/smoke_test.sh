#!/usr/bin/env bash
# CI smoke test of the MNIST example on a slice of the real digits:
#   1. a few hundred SGD steps of lenet5: the loss falls and held-out accuracy is far above chance;
#   2. resuming: 2 epochs straight and 1 epoch + --resume for the second write identical files.
# usage: smoke_test.sh MNIST_BINARY DATA_DIR WORK_DIR
set -euo pipefail
mnist=$1 data=$2 work=$3

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -s "$data/$f" ] && [ ! -s "$data/$f.gz" ]; then
    echo "smoke_test: no $f in $data: run scripts/fetch_data.sh first" >&2
    exit 1
  fi
done
rm -rf "$work" && mkdir -p "$work"

# 4,000 images in batches of 32 for 2 epochs: 250 steps.
"$mnist" --data "$data" --model lenet5 --optimizer sgd --lr 0.05 --limit 4000 --batch 32 \
  --epochs 2 --seed 1 2>/dev/null | tee "$work/train.txt"
awk '
  $1 == "epoch" { loss[$2] = $8; acc[$2] = $10; n = $2 }
  END {
    if (n != 2) { print "smoke_test: expected 2 epoch lines, got " n; exit 1 }
    if (!(loss[2] < loss[1])) { print "smoke_test: loss did not fall: " loss[1] " -> " loss[2]; exit 1 }
    if (!(acc[2] > 0.8)) { print "smoke_test: held-out accuracy " acc[2] " is not far above chance (0.1)"; exit 1 }
    print "smoke_test: loss " loss[1] " -> " loss[2] ", held-out accuracy " acc[2]
  }' "$work/train.txt"

common=(--data "$data" --model lenet5 --optimizer adam --limit 1000 --batch 50 --seed 3)
"$mnist" "${common[@]}" --epochs 2 --save "$work/straight.safetensors" >/dev/null 2>&1
"$mnist" "${common[@]}" --epochs 1 --save "$work/first.safetensors" >/dev/null 2>&1
"$mnist" "${common[@]}" --epochs 2 --resume "$work/first.safetensors" \
  --save "$work/resumed.safetensors" >/dev/null 2>&1
if ! cmp "$work/straight.safetensors" "$work/resumed.safetensors"; then
  echo "smoke_test: resuming after epoch 1 does not reproduce the straight 2-epoch run" >&2
  exit 1
fi
echo "smoke_test: the resumed run's checkpoint is byte-identical to the straight run's"
