#!/usr/bin/env bash
# CI test of the MNIST example under mpirun (--distributed), on a slice of the real digits:
#   1. 2 ranks with --batch 32 train as 1 process with --batch 64: the same epoch lines (loss and
#      held-out accuracy, to rounding), printed once, with the global batch on stderr;
#   2. the 2-rank checkpoint resumes in 1 process like the 1-process checkpoint does;
#   3. under mpirun without --distributed the ranks refuse to train independent copies.
# usage: distributed_test.sh MNIST_BINARY DATA_DIR WORK_DIR MPIRUN [ARGUMENTS...] NUMPROC_FLAG
# (mpirun and its options up to the flag that takes the rank count, e.g. mpirun --oversubscribe -np)
set -euo pipefail
mnist=$1 data=$2 work=$3
shift 3
mpirun=("$@")
rm -rf "$work" && mkdir -p "$work"
fail() {
  echo "distributed_test: $*" >&2
  exit 1
}

# 2,000 images, 2 epochs of 32 global batches of 64 (the last of 16): rank r takes positions
# r, r + 2, ... of each epoch's order, so both runs see the same images in the same steps.
common=(--data "$data" --model lenet5 --optimizer adam --limit 2000 --lr-step 0 --seed 3
  --threads 1)
"${mpirun[@]}" 2 "$mnist" --distributed --batch 32 --epochs 2 "${common[@]}" \
  --save "$work/two.safetensors" --log "$work/two.csv" >"$work/two.out" 2>"$work/two.err" ||
  { cat "$work/two.err" >&2; fail "the 2-rank run failed"; }
"$mnist" --batch 64 --epochs 2 "${common[@]}" --save "$work/one.safetensors" >"$work/one.out" \
  2>"$work/one.err" || { cat "$work/one.err" >&2; fail "the 1-process run failed"; }
cat "$work/two.out" "$work/one.out"

grep -q "distributed: 2 ranks (2 on this machine) x batch 32 = global batch 64, 1 thread per rank" \
  "$work/two.err" || { cat "$work/two.err" >&2; fail "the global batch is not printed"; }
[ "$(grep -c '^epoch ' "$work/two.out")" -eq 2 ] || fail "expected 2 epoch lines (rank 0's only)"
[ "$(grep -c '^epoch ' "$work/one.out")" -eq 2 ] || fail "expected 2 epoch lines of 1 process"
[ "$(wc -l <"$work/two.csv")" -eq 3 ] || fail "expected a header and 2 rows in rank 0's --log"
# Columns 8 (loss) and 10 (held-out accuracy): the averaged gradients differ from the 1-process
# ones only in the order of their sums (float rounding), which 64 Adam steps do not amplify
# beyond these bounds.
paste -d ' ' "$work/two.out" "$work/one.out" | awk '
  {
    if ($2 != $(2 + NF / 2)) { print "distributed_test: epoch " $2 " against " $(2 + NF / 2); exit 1 }
    dloss = $8 - $(8 + NF / 2); dacc = $10 - $(10 + NF / 2)
    if (dloss < 0) dloss = -dloss
    if (dacc < 0) dacc = -dacc
    if (dloss > 2e-4 || dacc > 1e-3) {
      print "distributed_test: epoch " $2 ": 2 ranks " $8 " " $10 ", 1 process " $(8 + NF / 2) " " $(10 + NF / 2)
      exit 1
    }
  }' || fail "2 ranks x batch 32 did not train as 1 process x batch 64"
echo "distributed_test: 2 ranks x batch 32 train as 1 process x batch 64"

# Epoch 3 in one process, from either checkpoint.
"$mnist" --batch 64 "${common[@]}" --epochs 3 --resume "$work/two.safetensors" \
  >"$work/two_resumed.out" 2>"$work/two_resumed.err" ||
  { cat "$work/two_resumed.err" >&2; fail "the 2-rank checkpoint does not resume in 1 process"; }
"$mnist" --batch 64 "${common[@]}" --epochs 3 --resume "$work/one.safetensors" \
  >"$work/one_resumed.out" 2>"$work/one_resumed.err" ||
  { cat "$work/one_resumed.err" >&2; fail "the 1-process checkpoint does not resume"; }
cat "$work/two_resumed.out" "$work/one_resumed.out"
# One line each, of epoch 3, with the same loss.
paste -d ' ' "$work/two_resumed.out" "$work/one_resumed.out" | awk '
  {
    dloss = $8 - $(8 + NF / 2); if (dloss < 0) dloss = -dloss
    if ($2 != 3 || $(2 + NF / 2) != 3 || dloss > 2e-4) exit 1
  }
  END { if (NR != 1) exit 1 }' || fail "epoch 3 from the 2-rank checkpoint is not epoch 3 from the 1-process one"
echo "distributed_test: the 2-rank checkpoint resumes in 1 process"

# Forgetting --distributed under mpirun: an error, not two independent trainings.
if "${mpirun[@]}" 2 "$mnist" --epochs 1 "${common[@]}" >"$work/forgot.out" 2>"$work/forgot.err"; then
  fail "2 ranks without --distributed trained"
fi
grep -q "init() has not been called" "$work/forgot.err" ||
  { cat "$work/forgot.err" >&2; fail "no clear error without --distributed"; }
echo "distributed_test: without --distributed under mpirun, a clear error"
