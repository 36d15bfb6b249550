#!/usr/bin/env bash
# CI smoke test of the MNIST example on a slice of the real digits:
#   1. a few hundred SGD steps of lenet5: the loss falls and held-out accuracy is far above chance;
#   2. resuming: 2 epochs straight and 1 epoch + --resume for the second write identical files,
#      and --log files with the same rows (but for the img/s column).
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
"$mnist" "${common[@]}" --epochs 2 --save "$work/straight.safetensors" \
  --log "$work/straight.csv" >/dev/null 2>&1
"$mnist" "${common[@]}" --epochs 1 --save "$work/first.safetensors" --log "$work/resumed.csv" \
  >/dev/null 2>&1
"$mnist" "${common[@]}" --epochs 2 --resume "$work/first.safetensors" \
  --save "$work/resumed.safetensors" --log "$work/resumed.csv" >/dev/null 2>&1
if ! cmp "$work/straight.safetensors" "$work/resumed.safetensors"; then
  echo "smoke_test: resuming after epoch 1 does not reproduce the straight 2-epoch run" >&2
  exit 1
fi
echo "smoke_test: the resumed run's checkpoint is byte-identical to the straight run's"
# epoch,loss,accuracy,lr (img_per_s differs from run to run).
if [ "$(head -n 1 "$work/straight.csv")" != "epoch,loss,accuracy,lr,img_per_s" ] ||
  [ "$(wc -l <"$work/straight.csv")" -ne 3 ] ||
  ! diff <(cut -d, -f1-4 "$work/straight.csv") <(cut -d, -f1-4 "$work/resumed.csv") >&2; then
  echo "smoke_test: the --log of the resumed run is not the straight run's (header and 2 rows):" >&2
  cat "$work/straight.csv" "$work/resumed.csv" >&2
  exit 1
fi
echo "smoke_test: the resumed run's --log has the straight run's rows"
# Resuming after epoch 1 with the straight run's log: its row of epoch 2 is replaced, not doubled.
cp "$work/straight.csv" "$work/again.csv"
"$mnist" "${common[@]}" --epochs 2 --resume "$work/first.safetensors" --log "$work/again.csv" \
  >/dev/null 2>&1
if ! diff <(cut -d, -f1-4 "$work/straight.csv") <(cut -d, -f1-4 "$work/again.csv") >&2; then
  echo "smoke_test: resuming into a log with later epochs did not replace them" >&2
  exit 1
fi
# A file that is not a log is not overwritten by a resumed run.
echo "not a log" >"$work/other.csv"
if "$mnist" "${common[@]}" --epochs 2 --resume "$work/first.safetensors" --log "$work/other.csv" \
  >/dev/null 2>"$work/err" || [ "$(cat "$work/other.csv")" != "not a log" ] ||
  ! grep -qF -- "--log: $work/other.csv is not a metrics log" "$work/err"; then
  echo "smoke_test: resuming with --log into another file was not refused:" >&2
  cat "$work/err" >&2
  exit 1
fi
echo "smoke_test: a resumed run replaces the rows after its checkpoint and refuses other files"
