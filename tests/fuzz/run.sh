#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its seed corpus, as CTest does in CI. Prints
# how many inputs ran; on a finding, the fuzzer's report and each input that crashed (base64, and
# the command that replays it).
# usage: run.sh FUZZER SEED_DIR SECONDS WORK_DIR
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3 work=$4
rm -rf "$work" && mkdir -p "$work/corpus" "$work/findings"
status=0
# -rss_limit_mb: a request the memory guard should have refused shows as an out-of-memory finding.
# The targets write each input to a file in the temporary directory: this run's own.
TMPDIR="$work" "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/findings/" "$work/corpus" "$seeds" >"$work/log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
echo "$(basename "$fuzzer"): ${runs:-?} inputs in ${seconds} s, exit status $status"
if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/findings")" ]; then
  tail -n 60 "$work/log"
  for input in "$work/findings"/*; do
    [ -e "$input" ] || continue
    echo "finding $input ($(stat -c %s "$input") bytes), base64:"
    base64 -w 100 "$input" | head -c 20000 || true
    echo
    echo "replay: $fuzzer $input"
  done
  exit 1
fi
