#!/usr/bin/env bash
# Final test accuracy of tapegrad and PyTorch trained alike (same model, data, batch,
# optimizer, learning rate and epochs) over several seeds, since one seed's accuracy varies by
# about a point on 8,000 training images. Prints one Markdown row per framework.
#   bench/accuracy.sh --data DIR [--model lenet5] [--epochs 10] [--optimizer sgd] [--lr 0.01]
#                     [--lr-step 0] [--lr-gamma 0.3] [--seeds "0 1 2"] [--threads 2]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data="$root/data/mnist" model=lenet5 epochs=10 optimizer=sgd lr=0.01 seeds="0 1 2" threads=2
lr_step=0 lr_gamma=0.3
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2 ;; --model) model=$2 ;; --epochs) epochs=$2 ;; --optimizer) optimizer=$2 ;;
    --lr) lr=$2 ;; --seeds) seeds=$2 ;; --threads) threads=$2 ;;
    --lr-step) lr_step=$2 ;; --lr-gamma) lr_gamma=$2 ;;
    *) echo "usage: see the header of $0" >&2; exit 2 ;;
  esac
  shift 2
done
mnist="$root/build/examples/mnist/mnist"
[ -x "$mnist" ] || { echo "no $mnist: build first" >&2; exit 1; }

last_accuracy() { awk '$1 == "epoch" { a = $10 } END { print a }'; }
summary() {  # mean, min and max of the numbers on stdin, as percentages
  awk '{ s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1; n++ }
       END { printf "%.2f | %.2f | %.2f", 100 * s / n, 100 * lo, 100 * hi }'
}

tg=() torch=()
for seed in $seeds; do
  tg+=("$("$mnist" --data "$data" --model "$model" --optimizer "$optimizer" --lr "$lr" \
    --momentum 0.9 --lr-step "$lr_step" --lr-gamma "$lr_gamma" --batch 64 --epochs "$epochs" \
    --threads "$threads" --seed "$seed" 2>/dev/null | last_accuracy)")
  torch+=("$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$root/bench/torch_ref.py" --data "$data" \
    --model "$model" --optimizer "$optimizer" --lr "$lr" --lr-step "$lr_step" \
    --lr-gamma "$lr_gamma" --batch 64 --epochs "$epochs" \
    --threads "$threads" --seed "$seed" 2>/dev/null | last_accuracy)")
  echo "seed $seed: tapegrad ${tg[-1]} PyTorch ${torch[-1]}" >&2
done
setting="$model, $(basename "$data"), $optimizer lr $lr, batch 64, $epochs epochs"
[ "$lr_step" -eq 0 ] || setting+=", lr x$lr_gamma every $lr_step"
echo "| $setting | tapegrad | $(printf '%s\n' "${tg[@]}" | summary) | ${#tg[@]} |"
echo "| $setting | PyTorch | $(printf '%s\n' "${torch[@]}" | summary) | ${#torch[@]} |"
