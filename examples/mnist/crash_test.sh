#!/usr/bin/env bash
# CI test of what a crash during a save leaves: the MNIST example saves a checkpoint after every
# (short) epoch while this script watches for the save's temporary file and kills the process
# with SIGKILL the moment one appears, so that the kill lands inside a save. After each kill:
#   - the checkpoint (once a first save has completed) loads: a run resumes from it and trains on;
#   - once the next run has started, no file a killed run left beside the checkpoint remains
#     (each save and each start removes those of killed writers; they used to pile up, 750 KB
#     each).
# Fails unless at least one kill left a temporary file behind and one run resumed.
# Prints how many kills landed inside a save.
# usage: crash_test.sh MNIST_BINARY DATA_DIR WORK_DIR [KILLS]
set -euo pipefail
shopt -s nullglob
mnist=$1 data=$2 work=$3 kills=${4:-12}
rm -rf "$work" && mkdir -p "$work"
checkpoint="$work/ck.safetensors"
common=(--data "$data" --model lenet5 --optimizer adam --limit 640 --batch 64 --seed 5 --threads 1)

inside_save=0
resumed=0
missed=0
for ((round = 1; round <= kills; round++)); do
  resume=()
  if [ -e "$checkpoint" ]; then resume=(--resume "$checkpoint"); fi
  "$mnist" "${common[@]}" --epochs 100000 "${resume[@]}" --save "$checkpoint" \
    >/dev/null 2>"$work/err" &
  pid=$!
  # Watch for the temporary file of a save in progress, and let (round mod 3) saves complete
  # before the kill. A save can come and go between two looks (a few milliseconds on a busy
  # machine): after 60 s without catching one, the kill lands wherever the run is.
  landed=0 completed=0 saving=0 deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
    if ! compgen -G "$checkpoint.tapegrad-tmp.$pid.*" >/dev/null; then
      if [ "$saving" -eq 1 ]; then completed=$((completed + 1)) saving=0; fi
    elif [ "$completed" -lt $((round % 3)) ]; then
      saving=1
    else
      kill -KILL "$pid" 2>/dev/null || true
      landed=1
      # This run started before it saved: what killed runs left must be gone by now.
      for file in "$checkpoint".tapegrad-*; do
        if [[ "$file" != "$checkpoint.tapegrad-tmp.$pid."* ]]; then
          echo "crash_test: round $round: $file, left by a killed run, survived the next run" >&2
          exit 1
        fi
      done
      break
    fi
  done
  if [ "$landed" -eq 0 ]; then
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "crash_test: round $round: the run ended by itself; its stderr:" >&2
      cat "$work/err" >&2
      exit 1
    fi
    kill -KILL "$pid" 2>/dev/null || true
    missed=$((missed + 1))
  fi
  wait "$pid" 2>/dev/null || true
  if compgen -G "$checkpoint.tapegrad-tmp.$pid.*" >/dev/null; then
    inside_save=$((inside_save + 1))
  fi
  # The checkpoint left behind loads, and training goes on from it.
  if [ -e "$checkpoint" ]; then
    "$mnist" "${common[@]}" --epochs 1 --resume "$checkpoint" >/dev/null 2>"$work/err" || true
    epoch=$(sed -n 's/^resumed from .* after epoch \([0-9]*\) .*/\1/p' "$work/err")
    if [ -z "$epoch" ]; then
      echo "crash_test: round $round: the checkpoint did not load:" >&2
      cat "$work/err" >&2
      exit 1
    fi
    if ! "$mnist" "${common[@]}" --epochs $((epoch + 1)) --resume "$checkpoint" \
      --save "$checkpoint" >/dev/null 2>"$work/err"; then
      echo "crash_test: round $round: resuming after epoch $epoch failed:" >&2
      cat "$work/err" >&2
      exit 1
    fi
    resumed=$((resumed + 1))
    if compgen -G "$checkpoint.tapegrad-*" >/dev/null; then
      echo "crash_test: round $round: files left after the resumed run:" "$checkpoint".tapegrad-* >&2
      exit 1
    fi
  fi
done
if [ "$inside_save" -eq 0 ] || [ "$resumed" -eq 0 ]; then
  echo "crash_test: tested nothing: $inside_save kills left a temporary file, $resumed runs" \
    "resumed" >&2
  exit 1
fi
echo "crash_test: $kills kills, $((kills - missed)) of them while a save's temporary file" \
  "existed ($inside_save left one behind); $resumed resumed runs trained on from the" \
  "checkpoint; no file a killed run left survived the next run"
