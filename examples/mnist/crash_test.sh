#!/usr/bin/env bash
# CI test of what a crash during a save leaves: the MNIST example saves a checkpoint after every
# (short) epoch while this script watches for the save's temporary file and kills the process
# with SIGKILL the moment one appears, so that the kill lands inside a save. After each kill:
#   - the checkpoint (if the first save had completed) loads: a run resumes from it and trains on;
#   - once that run has started, no temporary file is left beside the checkpoint (each run removes
#     those of killed writers; they used to pile up, 750 KB each).
# usage: crash_test.sh MNIST_BINARY DATA_DIR WORK_DIR [KILLS]
set -euo pipefail
shopt -s nullglob
mnist=$1 data=$2 work=$3 kills=${4:-12}
rm -rf "$work" && mkdir -p "$work"
checkpoint="$work/ck.safetensors"
common=(--data "$data" --model lenet5 --optimizer adam --limit 640 --batch 64 --seed 5 --threads 1)

inside_save=0
resumed=0
for ((kill = 1; kill <= kills; kill++)); do
  if [ -e "$checkpoint" ]; then
    "$mnist" "${common[@]}" --epochs 100000 --resume "$checkpoint" --save "$checkpoint" \
      >/dev/null 2>"$work/err" &
  else
    "$mnist" "${common[@]}" --epochs 100000 --save "$checkpoint" >/dev/null 2>"$work/err" &
  fi
  pid=$!
  # Watch for the temporary file of a save in progress and let (kill mod 3) saves complete
  # before the kill (at most a few hundred thousand polls: some seconds).
  landed=0
  completed=0
  saving=0
  for ((poll = 0; poll < 600000; poll++)); do
    if ! compgen -G "$checkpoint.tmp.$pid.*" >/dev/null; then
      if [ "$saving" -eq 1 ]; then completed=$((completed + 1)) saving=0; fi
    elif [ "$completed" -lt $((kill % 3)) ]; then
      saving=1
    else
      kill -KILL "$pid"
      landed=1
      # This run started before it saved: what killed runs left must be gone by now.
      for file in "$checkpoint".tmp.*; do
        if [[ "$file" != "$checkpoint.tmp.$pid."* ]]; then
          echo "crash_test: kill $kill: $file, left by a killed run, survived the next run" >&2
          exit 1
        fi
      done
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
  done
  wait "$pid" 2>/dev/null || true
  if [ "$landed" -eq 0 ]; then
    echo "crash_test: kill $kill: the run ended or never saved within the time; its stderr:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  if compgen -G "$checkpoint.tmp.$pid.*" >/dev/null; then inside_save=$((inside_save + 1)); fi
  # The checkpoint left behind loads and training goes on from it.
  if [ -e "$checkpoint" ]; then
    epoch=$("$mnist" "${common[@]}" --epochs 1 --resume "$checkpoint" 2>&1 >/dev/null |
      sed -n 's/^resumed from .* after epoch \([0-9]*\) .*/\1/p')
    if [ -z "$epoch" ]; then
      echo "crash_test: kill $kill: the checkpoint did not load" >&2
      exit 1
    fi
    if ! "$mnist" "${common[@]}" --epochs $((epoch + 1)) --resume "$checkpoint" \
      --save "$checkpoint" >/dev/null 2>"$work/err"; then
      echo "crash_test: kill $kill: resuming after epoch $epoch failed:" >&2
      cat "$work/err" >&2
      exit 1
    fi
    resumed=$((resumed + 1))
  fi
  if [ -e "$checkpoint" ] && compgen -G "$checkpoint.tmp.*" >/dev/null; then
    echo "crash_test: kill $kill: temporary files left after the resumed run:" >&2
    ls -la "$checkpoint".tmp.* >&2
    exit 1
  fi
done
echo "crash_test: $kills kills while a save's temporary file existed ($inside_save left one" \
  "behind); $resumed resumed runs trained on from the checkpoint; no temporary file survived" \
  "the next run"
