#!/usr/bin/env bash
# Data-parallel training on this machine: the MNIST example as 2 ranks x 1 thread (mpirun,
# --distributed, --batch 32 per rank) against 1 process x 2 threads (--batch 64): the same global
# batch, the same steps. The two alternate within each round, so that a round's ratio compares
# the same state of a shared machine. Then one profiled 2-rank run: the share of rank 0's time in
# ops that DistributedDataParallel's rows take (the copy into buckets and the ring's steps inside
# backward, the wait at backward's end for what did not overlap, the copy out). Last, the cost
# model of many machines (docs/distributed.md) with this model's gradient and the time of its
# backward per image on one thread here.
#   bench/compare_distributed.sh [--model M] [--rounds R] [--epochs E] [--data DIR]
# Needs a Release build on MPI (build/examples/mnist/mnist), mpirun (openmpi-bin) and the data
# (scripts/fetch_data.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=mnist_cnn rounds=5 epochs=3 data="$root/data/mnist"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) echo "usage: $0 [--model M] [--rounds R] [--epochs E] [--data DIR]" >&2; exit 2 ;;
  esac
done
mnist="$root/build/examples/mnist/mnist"
[ -x "$mnist" ] || { echo "no $mnist: build first (scripts/test.sh or scripts/mnist.sh)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "no mpirun: apt-get install openmpi-bin" >&2; exit 1; }
# shellcheck source=scripts/lib/rates.sh
source "$root/scripts/lib/rates.sh"

# As CTest runs the jobs (cmake/mpi_jobs.cmake): as root too, over shared memory, no pinning (the
# example bounds each rank's threads itself).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpirun=(mpirun --bind-to none -np 2)
train=(--data "$data" --model "$model" --lr-step 0 --epochs "$epochs")

echo "machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')); tapegrad" \
  "$(git -C "$root" rev-parse --short HEAD); $(mpirun --version | head -n 1);" \
  "OMPI_MCA_btl=$OMPI_MCA_btl"
echo "$model on $(basename "$data"), $epochs epochs per run (mean img/s), the example's optimizer" \
  "(Adam); global batch 64"
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
# The example's stdout (its epoch lines); its stderr shown only if it fails.
mnist_run() { "$@" 2>"$errors" || { cat "$errors" >&2; echo "failed: $*" >&2; exit 1; }; }
two=() one=()
for round in $(seq "$rounds"); do
  two+=("$(mnist_run "${mpirun[@]}" "$mnist" --distributed --batch 32 --threads 1 "${train[@]}" |
    mean_rate)")
  one+=("$(mnist_run "$mnist" --batch 64 --threads 2 "${train[@]}" | mean_rate)")
  echo "round $round: 2 ranks x 1 thread ${two[-1]} img/s, 1 process x 2 threads ${one[-1]} img/s," \
    "ratio $(ratio "${two[-1]}" "${one[-1]}")"
done
mapfile -t ratios < <(paired_ratios two one)
echo "median: 2 ranks x 1 thread $(median "${two[@]}") img/s, 1 process x 2 threads" \
  "$(median "${one[@]}") img/s; ratio $(median "${ratios[@]}") (median of the rounds' ratios)"

# Rank 0's profile of the last epoch: DistributedDataParallel's rows against all ops.
"${mpirun[@]}" "$mnist" --distributed --batch 32 --threads 1 "${train[@]}" --profile 2>&1 \
  >/dev/null | awk -v epochs="$epochs" '
    /time per op/ { epoch++ }
    epoch == epochs && /^\| DistributedDataParallel/ { split($0, f, "|"); ddp[f[2]] = f[4]; total_ddp += f[4] }
    epoch == epochs && /^\| all ops/ { split($0, f, "|"); all = f[4] }
    END {
      if (!all) { print "no profile of epoch " epochs " in the output"; exit 1 }
      for (row in ddp) printf "profile, epoch %d, rank 0:%s %.1f ms (%.1f%% of %.0f ms in ops)\n", epochs, row, ddp[row], 100 * ddp[row] / all, all
      printf "profile: DistributedDataParallel in all %.1f%% of rank 0'"'"'s time in ops\n", 100 * total_ddp / all
    }'

# The cost model. A ring all-reduce sends (and receives) 2 (p - 1) / p of the gradient's bytes per
# rank per step, in 2 (p - 1) messages per bucket (one bucket here: these models' gradients are
# under DistributedDataParallel's 25 MiB); backward at batch B takes B x (its time per image).
# Assumed latency per message: 20 us at 10 Gbit/s (TCP), 2 us at 100 Gbit/s (RDMA).
"$mnist" --batch 64 --threads 1 "${train[@]}" --profile 2>&1 >/dev/null | awk -v model="$model" '
  / parameters$/ { parameters = $2 }
  /backward\(\) took/ { per_image = $(NF - 3) }
  END {
    bytes = 4 * parameters
    printf "cost model, %s: %d parameters, %.0f KB of f32 gradients; backward %.4f ms per image on 1 thread\n", model, parameters, bytes / 1e3, per_image
    for (p = 8; p <= 64; p *= 8) {
      for (i = 1; i <= 2; i++) {
        gbit = i == 1 ? 10 : 100; latency_ms = i == 1 ? 0.020 : 0.002
        ms = 2 * (p - 1) / p * bytes * 8 / (gbit * 1e9) * 1e3 + 2 * (p - 1) * latency_ms
        printf "cost model, %s: p = %d at %d Gbit/s: %.2f ms of communication per step, hidden by a backward of batch >= %.0f per rank\n", model, p, gbit, ms, ms / per_image
      }
    }
  }'
