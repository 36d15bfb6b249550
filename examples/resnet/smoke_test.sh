#!/usr/bin/env bash
# CI smoke test of the ResNet example on a slice of Fashion-MNIST (the first 512 training images,
# and the first 1,000 test images, which it copies into WORK_DIR/data):
#   1. bad flags are refused before anything is loaded;
#   2. 2 epochs print 2 lines of exactly the MNIST example's form, with a falling loss, and the
#      --log CSV holds the same numbers and the cosine's learning rates (0.1, then 0.05);
#   3. resuming: 2 epochs straight and 1 epoch + --resume for the second write identical
#      checkpoints (augmentation, shuffling and BatchNorm buffers included) and the same log rows.
# It leaves WORK_DIR/straight.safetensors, its test accuracy (WORK_DIR/train.txt) and WORK_DIR/data
# for pytorch_test.sh, and the logs for the plot test.
# usage: smoke_test.sh RESNET_BINARY DATA_DIR WORK_DIR
set -euo pipefail
resnet=$1 data=$2 work=$3

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -s "$data/$f" ] && [ ! -s "$data/$f.gz" ]; then
    echo "smoke_test: no $f in $data: run scripts/fetch_data.sh first" >&2
    exit 1
  fi
done
rm -rf "$work" && mkdir -p "$work/data"

# 1. Refused before the data is read (the data directory does not exist).
refuses() {
  local expected=$1
  shift
  if timeout 10 "$resnet" --data "$work/no_data_here" "$@" >"$work/out" 2>"$work/err" ||
    grep -q '^epoch' "$work/out" || ! grep -qF -- "$expected" "$work/err"; then
    echo "smoke_test: '$*' was not refused with: $expected; got:" >&2
    cat "$work/err" >&2
    exit 1
  fi
}
refuses "--warmup: 3 epochs of warmup leave none of the 3 epochs for the cosine" --warmup 3 --epochs 3
refuses "--blocks: expected a whole number in [1, 16], got '0'" --blocks 0
refuses "--lr: expected a finite number in (0, 10], got 'nan'" --lr nan
refuses "--weight-decay: expected a finite number in [0, 1], got '-1'" --weight-decay -1
refuses "--log: check_writable: cannot create a file beside $work/missing/m.csv" \
  --log "$work/missing/m.csv"
echo "smoke_test: bad flags refused before training"

# The first `count` items of an IDX file (raw or .gz) as a raw IDX file: the magic, the new count,
# the rest of the header (`header` bytes in all), then `count` items of `item` bytes.
slice_idx() {
  local source=$1 target=$2 count=$3 item=$4 header=$5
  zcat -f "$source" >"$work/whole"
  {
    head -c 4 "$work/whole"
    printf '%b' "$(printf '\\x%02x' $((count >> 24 & 255)) $((count >> 16 & 255)) \
      $((count >> 8 & 255)) $((count & 255)))"
    head -c $((header + count * item)) "$work/whole" | tail -c +9
  } >"$target"
  rm "$work/whole"
}
find_idx() { if [ -s "$data/$1" ]; then echo "$data/$1"; else echo "$data/$1.gz"; fi; }
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  ln -s "$(realpath "$(find_idx "$f")")" "$work/data/$(basename "$(find_idx "$f")")"
done
slice_idx "$(find_idx t10k-images-idx3-ubyte)" "$work/data/t10k-images-idx3-ubyte" 1000 784 16
slice_idx "$(find_idx t10k-labels-idx1-ubyte)" "$work/data/t10k-labels-idx1-ubyte" 1000 1 8

# 2. 512 images in batches of 64 for 2 epochs: 16 steps.
common=(--data "$work/data" --limit 512 --batch 64 --seed 1 --threads 2)
"$resnet" "${common[@]}" --epochs 2 --save "$work/straight.safetensors" \
  --log "$work/straight.csv" 2>"$work/train.err" | tee "$work/train.txt"
number='[0-9]+\.[0-9]+'
line="^epoch [12] train_s $number img_per_s [0-9]+ loss $number test_acc $number\$"
if [ "$(grep -cE "$line" "$work/train.txt")" -ne 2 ] || [ "$(wc -l <"$work/train.txt")" -ne 2 ]; then
  echo "smoke_test: stdout is not 2 lines of the form 'epoch 1 train_s 6.86 img_per_s 8746" \
    "loss 0.8846 test_acc 0.7837'" >&2
  exit 1
fi
# The log against the lines: the same epoch, loss and accuracy (to the lines' 4 decimals), and
# the cosine's rates.
awk -F, '
  NR == FNR { loss[$2] = $8; acc[$2] = $10; n = $2; next }
  FNR == 1 { if ($0 != "epoch,loss,accuracy,lr,img_per_s") { print "smoke_test: log header " $0; exit 1 } next }
  {
    rows++
    if (sprintf("%.4f", $2) != loss[$1] || sprintf("%.4f", $3) != acc[$1] || $5 <= 0) {
      print "smoke_test: log row " $0 " differs from the epoch line"; exit 1
    }
    if ($4 != (rows == 1 ? "0.1" : "0.05")) { print "smoke_test: lr " $4 " in row " $0; exit 1 }
  }
  END {
    if (rows != 2) { print "smoke_test: " rows " log rows, expected 2"; exit 1 }
    if (!(loss[2] < loss[1])) { print "smoke_test: loss did not fall: " loss[1] " -> " loss[2]; exit 1 }
    print "smoke_test: 2 epoch lines, loss " loss[1] " -> " loss[2] ", test accuracy " acc[2] \
      "; the log agrees"
  }' FS=' ' "$work/train.txt" FS=, "$work/straight.csv"

# 3. Resuming after epoch 1.
"$resnet" "${common[@]}" --epochs 1 --save "$work/first.safetensors" --log "$work/resumed.csv" \
  >/dev/null 2>&1
"$resnet" "${common[@]}" --epochs 2 --resume "$work/first.safetensors" \
  --save "$work/resumed.safetensors" --log "$work/resumed.csv" >/dev/null 2>&1
if ! cmp "$work/straight.safetensors" "$work/resumed.safetensors"; then
  echo "smoke_test: resuming after epoch 1 does not reproduce the straight 2-epoch run" >&2
  exit 1
fi
if ! diff <(cut -d, -f1-4 "$work/straight.csv") <(cut -d, -f1-4 "$work/resumed.csv") >&2; then
  echo "smoke_test: the resumed run's --log rows differ from the straight run's" >&2
  exit 1
fi
echo "smoke_test: the resumed run's checkpoint is byte-identical to the straight run's, its log" \
  "rows the same"
