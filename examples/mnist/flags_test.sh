#!/usr/bin/env bash
# CI test of the MNIST example's command line: every bad value is refused before anything is
# loaded or trained, with a message that names the flag and what it expected. Before these
# checks, --momentum nan trained to "loss nan" and exited 0, --save into a missing directory failed
# after the first epoch, and --batch 0 said "Value 0 not in range 0.000000 to 1797...".
# usage: flags_test.sh MNIST_BINARY WORK_DIR
set -euo pipefail
mnist=$1 work=$2
rm -rf "$work" && mkdir -p "$work/a_directory"
failures=0

# refuses EXPECTED_MESSAGE ARGS...: the run exits non-zero within 10 s (no data is loaded: the
# data directory does not exist), prints no epoch line and prints the message on stderr.
refuses() {
  local expected=$1
  shift
  local status=0
  timeout 10 "$mnist" --data "$work/no_data_here" "$@" >"$work/out" 2>"$work/err" || status=$?
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || grep -q '^epoch' "$work/out" ||
    ! grep -qF -- "$expected" "$work/err"; then
    echo "flags_test: '$*' exited $status; expected the message: $expected; got:" >&2
    cat "$work/err" >&2
    failures=$((failures + 1))
  fi
}

refuses "--momentum: expected a finite number in [0, 0.999], got 'nan'" --optimizer sgd --momentum nan
refuses "--momentum: expected a finite number in [0, 0.999], got '1e300'" --momentum 1e300
refuses "--lr: expected a finite number in (0, 10], got 'nan'" --lr nan
refuses "--lr: expected a finite number in (0, 10], got '1e308'" --lr 1e308
refuses "--lr: expected a finite number in (0, 10], got 'abc'" --lr abc
refuses "--lr: expected a finite number in (0, 10], got '0'" --lr 0
refuses "--lr-gamma: expected a finite number in (0, 1], got 'inf'" --lr-gamma inf
refuses "--weight-decay: expected a finite number in [0, 1], got '-0.1'" --weight-decay -0.1
refuses "--batch: expected a whole number in [1, 65536], got '0'" --batch 0
refuses "--epochs: expected a whole number in [1, 100000], got '-1'" --epochs -1
refuses "--threads: expected a whole number in [0, 1024], got '1.5'" --threads 1.5
refuses "--limit: expected a whole number in [0, 18446744073709551615], got '-5'" --limit -5
refuses "--resume: File is actually a directory: $work/a_directory" --resume "$work/a_directory"
refuses "--resume: File does not exist: $work/none.safetensors" --resume "$work/none.safetensors"
refuses "--save: check_writable: cannot create a file beside $work/missing/ck.safetensors" \
  --save "$work/missing/ck.safetensors"
refuses "--save: check_writable: $work/a_directory is a directory" --save "$work/a_directory"
refuses "--log: check_writable: cannot create a file beside $work/missing/metrics.csv" \
  --log "$work/missing/metrics.csv"
refuses "--log: check_writable: $work/a_directory is a directory" --log "$work/a_directory"

if [ "$failures" -gt 0 ]; then
  echo "flags_test: $failures bad command lines were not refused as expected" >&2
  exit 1
fi
echo "flags_test: all 18 bad command lines refused before training, with their messages"
