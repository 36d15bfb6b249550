#!/usr/bin/env bash
# Training throughput of tapegrad against PyTorch (Debian's python3-torch on OpenBLAS) on this
# machine, in the same run: the same models, data, batch size, optimizer and thread count,
# alternating the two frameworks so that both see the same machine load. Prints how PyTorch runs
# (refusing the reference BLAS), then a Markdown table.
#   bench/compare_torch.sh [--epochs N] [--threads T] [--rounds R] [--data DIR]
# Needs a Release build (build/examples/mnist/mnist) and the data (scripts/fetch_data.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
epochs=1 threads=2 rounds=3 data="$root/data/mnist"
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) echo "usage: $0 [--epochs N] [--threads T] [--rounds R] [--data DIR]" >&2; exit 2 ;;
  esac
done
mnist="$root/build/examples/mnist/mnist"
python=/usr/bin/python3
[ -x "$mnist" ] || { echo "no $mnist: build first (scripts/test.sh or scripts/mnist.sh)" >&2; exit 1; }
# PyTorch as users have it: python3-torch with OpenBLAS (its Recommends), not the reference BLAS.
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"
install_missing_packages python3-torch libopenblas0-pthread
"$python" "$root/bench/torch_baseline.py"  # prints the baseline; fails on the reference BLAS
torch_version=$("$python" -c "import torch; print(torch.__version__)")
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores," \
  "$(grep -o -w -m1 avx512f /proc/cpuinfo || echo 'no AVX-512'); tapegrad $(git -C "$root" rev-parse --short HEAD)," \
  "$("$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$root/build/CMakeCache.txt")" --version | head -n 1)" \
  "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$root/build/CMakeCache.txt")"
echo

# Mean img_per_s of the epoch lines on stdin.
mean_rate() { awk '$1 == "epoch" { s += $6; n++ } END { if (n) printf "%.0f", s / n; else print 0 }'; }

echo "| model | batch | threads | tapegrad img/s | PyTorch $torch_version img/s | tapegrad / PyTorch |"
echo "|---|---|---|---|---|---|"
for model in lenet5 mnist_cnn; do
  tg_rates=() torch_rates=()
  for _ in $(seq "$rounds"); do
    tg_rates+=("$("$mnist" --data "$data" --model "$model" --optimizer sgd --lr 0.01 --momentum 0.9 \
      --lr-step 0 --batch 64 --epochs "$epochs" --threads "$threads" 2>/dev/null | mean_rate)")
    torch_rates+=("$(OPENBLAS_NUM_THREADS=1 "$python" "$root/bench/torch_ref.py" --data "$data" \
      --model "$model" --batch 64 --epochs "$epochs" --threads "$threads" 2>/dev/null | mean_rate)")
  done
  # The median round of each, against the other's median.
  tg=$(printf '%s\n' "${tg_rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  torch=$(printf '%s\n' "${torch_rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  ratio=$(awk -v a="$tg" -v b="$torch" 'BEGIN { printf "%.2f", a / b }')
  echo "| $model | 64 | $threads | $tg | $torch | $ratio |"
done
