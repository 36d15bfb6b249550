#!/usr/bin/env bash
# The ResNet example (examples/resnet) against its PyTorch twin (bench/resnet_torch.py) on
# Fashion-MNIST: the same model, data, augmentation, optimizer, schedule, batch size and thread
# count, one run of each per seed, the two alternating (which goes first alternates too) so that
# both see the same machine load. Prints how PyTorch runs (refusing the reference BLAS), each
# seed's final accuracies and mean img/s, then a Markdown table: final test accuracy over the
# seeds (mean, sample standard deviation, min, max), median img/s, and the median of the seeds'
# tapegrad / PyTorch img/s ratios. Every run's output and --log CSV is kept in --out, with the
# command that plots the curves.
#   bench/compare_resnet.sh [--epochs 15] [--seeds "0 1 2 3 4"] [--threads 2] [--batch 128]
#                           [--lr 0.1] [--blocks 2] [--limit 0] [--data DIR] [--out DIR]
# Needs a Release build (build/examples/resnet/resnet) and the data (scripts/fetch_data.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
epochs=15 seeds="0 1 2 3 4" threads=2 batch=128 lr=0.1 blocks=2 limit=0
data="$root/data/fashion-mnist" out="$root/build/compare_resnet"
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2 ;; --seeds) seeds=$2 ;; --threads) threads=$2 ;; --batch) batch=$2 ;;
    --lr) lr=$2 ;; --blocks) blocks=$2 ;; --limit) limit=$2 ;; --data) data=$2 ;; --out) out=$2 ;;
    *) echo "usage: see the header of $0" >&2; exit 2 ;;
  esac
  shift 2
done
resnet="$root/build/examples/resnet/resnet"
python=/usr/bin/python3
[ -x "$resnet" ] || { echo "no $resnet: build first (scripts/test.sh)" >&2; exit 1; }
# PyTorch as users have it: python3-torch with OpenBLAS (its Recommends), not the reference BLAS.
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"
install_missing_packages python3-torch libopenblas0-pthread
# OpenBLAS choosing its kernels for this CPU, as on a user's machine (see bench/compare_torch.sh).
for variable in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  if [ -n "${!variable:-}" ]; then
    echo "note: $variable=${!variable} in the environment, unset for this comparison"
    unset "$variable"
  fi
done
export OPENBLAS_NUM_THREADS=1  # PyTorch's fastest here; bench/resnet_torch.py sets it too
"$python" "$root/bench/torch_baseline.py"  # prints the baseline; fails on the reference BLAS
torch_version=$("$python" -c "import torch; print(torch.__version__)")
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; tapegrad" \
  "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . || echo '+changes')," \
  "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$root/build/CMakeCache.txt")"

# With fewer threads than cores, both run on the same (last) cores, as in compare_torch.sh.
pin=()
cores=$(nproc)
if [ "$threads" -lt "$cores" ]; then
  pin=(taskset -c "$((cores - threads))-$((cores - 1))")
  echo "pinned: each process to CPUs $((cores - threads))-$((cores - 1)) of 0-$((cores - 1)) (taskset)"
fi
echo

# mean_rate, median, ratio, paired_ratios.
# shellcheck source=scripts/lib/rates.sh
source "$root/scripts/lib/rates.sh"
last_accuracy() { awk '$1 == "epoch" { a = $10 } END { print a }' "$1"; }
# mean | sample standard deviation | min | max of the accuracies given, in percent.
summary() {
  printf '%s\n' "$@" | awk '{ x[NR] = 100 * $1; s += x[NR] }
    END {
      m = s / NR
      for (i = 1; i <= NR; i++) {
        v += (x[i] - m) ^ 2
        if (i == 1 || x[i] < lo) lo = x[i]
        if (i == 1 || x[i] > hi) hi = x[i]
      }
      printf "%.2f | %.2f | %.2f | %.2f", m, (NR > 1 ? sqrt(v / (NR - 1)) : 0), lo, hi
    }'
}

mkdir -p "$out"
common=(--data "$data" --epochs "$epochs" --batch "$batch" --lr "$lr" --blocks "$blocks"
  --threads "$threads" --limit "$limit")
run_tapegrad() {
  "${pin[@]}" "$resnet" "${common[@]}" --seed "$1" --log "$out/tapegrad_seed$1.csv" \
    >"$out/tapegrad_seed$1.txt" 2>"$out/tapegrad_seed$1.err"
}
run_torch() {
  "${pin[@]}" "$python" "$root/bench/resnet_torch.py" "${common[@]}" --seed "$1" \
    --log "$out/pytorch_seed$1.csv" >"$out/pytorch_seed$1.txt" 2>"$out/pytorch_seed$1.err"
}
tg_acc=() torch_acc=() tg_rates=() torch_rates=()
index=0
for seed in $seeds; do
  if [ $((index % 2)) -eq 0 ]; then run_tapegrad "$seed"; run_torch "$seed"
  else run_torch "$seed"; run_tapegrad "$seed"; fi
  index=$((index + 1))
  tg_acc+=("$(last_accuracy "$out/tapegrad_seed$seed.txt")")
  torch_acc+=("$(last_accuracy "$out/pytorch_seed$seed.txt")")
  tg_rates+=("$(mean_rate <"$out/tapegrad_seed$seed.txt")")
  torch_rates+=("$(mean_rate <"$out/pytorch_seed$seed.txt")")
  echo "seed $seed: tapegrad ${tg_acc[-1]} (${tg_rates[-1]} img/s), PyTorch ${torch_acc[-1]}" \
    "(${torch_rates[-1]} img/s)"
done
mapfile -t ratios < <(paired_ratios tg_rates torch_rates)
echo
setting="ResNet ($blocks blocks per stage), $(basename "$data")"
[ "$limit" -eq 0 ] || setting+=" (first $limit)"
setting+=", SGD lr $lr cosine, batch $batch, $epochs epochs, $threads threads"
echo "| setting | framework | accuracy mean | std | min | max | seeds | img/s (median) |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $setting | tapegrad | $(summary "${tg_acc[@]}") | ${#tg_acc[@]} | $(median "${tg_rates[@]}") |"
echo "| $setting | PyTorch $torch_version | $(summary "${torch_acc[@]}") | ${#torch_acc[@]} |" \
  "$(median "${torch_rates[@]}") |"
echo
echo "tapegrad / PyTorch img/s: $(median "${ratios[@]}") (median of the seeds' ratios: ${ratios[*]})"
echo "curves: $python $root/scripts/plot_metrics.py $out/tapegrad_seed*.csv $out/pytorch_seed*.csv" \
  "--out $out/curves.png"
