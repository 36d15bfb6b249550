#!/usr/bin/env bash
# Training throughput of tapegrad against PyTorch (Debian's python3-torch on OpenBLAS) and against
# the same models in libtorch's C++ frontend, on this machine, in the same run: the same models,
# data, batch size, optimizer and thread count, the frameworks alternating so that all see the
# same machine load. Prints how PyTorch runs (refusing the reference BLAS), then a Markdown table
# of the medians over the rounds.
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
install_missing_packages python3-torch libopenblas0-pthread libtorch-dev
# OpenBLAS as users run it: choosing its kernels for this CPU. Some environments (this one among
# them) export OPENBLAS_CORETYPE=Haswell, which holds it to AVX2 kernels at about half its AVX-512
# speed here, and an L2 size hint; neither is what a user's machine has.
for variable in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  if [ -n "${!variable:-}" ]; then
    echo "note: $variable=${!variable} in the environment, unset for this comparison"
    unset "$variable"
  fi
done
# glibc's malloc tuned as for training on a CPU: by default it hands each freed block of a large
# tensor back to the kernel and faults it in again on the next step (PyTorch and libtorch allocate
# a step's activations anew; tapegrad keeps them in its storage cache). On this 2-core VM, where
# page faults are dear, that cost PyTorch more than half its mnist_cnn rate (627-1081 img/s
# against 1772-1892 with these settings, 3,200 digits, alternated). Set for all three alike.
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296:glibc.malloc.top_pad=536870912
echo "malloc: GLIBC_TUNABLES=$GLIBC_TUNABLES (for all three)"
"$python" "$root/bench/torch_baseline.py"  # prints the baseline; fails on the reference BLAS
# The same two models in libtorch's C++ frontend (bench/libtorch_ref.cpp), same protocol.
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" --target libtorch_ref >/dev/null
libtorch="$root/build/bench/libtorch_ref"
torch_version=$("$python" -c "import torch; print(torch.__version__)")
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') (family $(sed -n 's/^cpu family\t*: //p' \
  /proc/cpuinfo | head -n 1)), $(nproc) cores," \
  "$(grep -o -w -m1 avx512f /proc/cpuinfo || echo 'no AVX-512'); tapegrad $(git -C "$root" rev-parse --short HEAD)," \
  "$("$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$root/build/CMakeCache.txt")" --version | head -n 1)" \
  "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$root/build/CMakeCache.txt")"
echo

# With fewer threads than cores, all three run on the same cores (the last ones: CPU 0 takes most
# interrupts), pinned with taskset. On a 2-core VM here one core ran mnist_cnn 18% slower than
# the other, and which one a process landed on decided its round.
pin=()
cores=$(nproc)
if [ "$threads" -lt "$cores" ]; then
  pin=(taskset -c "$((cores - threads))-$((cores - 1))")
  echo "pinned: each process to CPUs $((cores - threads))-$((cores - 1)) of 0-$((cores - 1)) (taskset)"
  echo
fi

# mean_rate, median, ratio, paired_ratios.
# shellcheck source=scripts/lib/rates.sh
source "$root/scripts/lib/rates.sh"

# The ratios are medians of each round's ratio: the frameworks of one round run back to back,
# so a machine that drifts by tens of percent over minutes (shared cores) moves both sides of a
# round's ratio alike, where it would move a ratio of medians taken from different rounds.
echo "| model | batch | threads | tapegrad img/s | PyTorch $torch_version img/s | libtorch img/s |" \
  "tapegrad / PyTorch | tapegrad / libtorch |"
echo "|---|---|---|---|---|---|---|---|"
notes=()
for model in lenet5 mnist_cnn; do
  tg_rates=() torch_rates=() libtorch_rates=()
  for _ in $(seq "$rounds"); do
    tg_rates+=("$("${pin[@]}" "$mnist" --data "$data" --model "$model" --optimizer sgd --lr 0.01 --momentum 0.9 \
      --lr-step 0 --batch 64 --epochs "$epochs" --threads "$threads" 2>/dev/null | mean_rate)")
    torch_rates+=("$(OPENBLAS_NUM_THREADS=1 "${pin[@]}" "$python" "$root/bench/torch_ref.py" --data "$data" \
      --model "$model" --batch 64 --epochs "$epochs" --threads "$threads" 2>/dev/null | mean_rate)")
    libtorch_rates+=("$(OPENBLAS_NUM_THREADS=1 "${pin[@]}" "$libtorch" --data "$data" --model "$model" \
      --batch 64 --epochs "$epochs" --threads "$threads" 2>/dev/null | mean_rate)")
  done
  tg=$(median "${tg_rates[@]}") torch=$(median "${torch_rates[@]}")
  libtorch_rate=$(median "${libtorch_rates[@]}")
  mapfile -t vs_torch < <(paired_ratios tg_rates torch_rates)
  mapfile -t vs_libtorch < <(paired_ratios tg_rates libtorch_rates)
  echo "| $model | 64 | $threads | $tg | $torch | $libtorch_rate | $(median "${vs_torch[@]}") |" \
    "$(median "${vs_libtorch[@]}") |"
  note="$model, round by round: tapegrad ${tg_rates[*]}; PyTorch ${torch_rates[*]};"
  note+=" libtorch ${libtorch_rates[*]} img/s; tapegrad / PyTorch ${vs_torch[*]};"
  notes+=("$note tapegrad / libtorch ${vs_libtorch[*]}")
done
echo
printf '%s\n' "${notes[@]}"
