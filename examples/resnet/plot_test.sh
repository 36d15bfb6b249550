#!/usr/bin/env bash
# CI test of scripts/plot_metrics.py on the logs smoke_test.sh wrote: a PNG comes out, and a file
# that is not a log is refused with a message naming it. Exits 77 (skipped) where PYTHON has no
# matplotlib.
# usage: plot_test.sh PYTHON SMOKE_WORK_DIR
set -euo pipefail
python=$1 work=$2
plot="$(dirname "${BASH_SOURCE[0]}")/../../scripts/plot_metrics.py"
if ! "$python" -c "import matplotlib" 2>/dev/null; then
  echo "plot_test: skipped: $python cannot import matplotlib (Debian: python3-matplotlib)"
  exit 77
fi
rm -f "$work/curves.png"
"$python" "$plot" "$work/straight.csv" "$work/resumed.csv" --labels straight resumed \
  --out "$work/curves.png"
if [ "$(head -c 8 "$work/curves.png" | od -An -tx1 | tr -d ' \n')" != 89504e470d0a1a0a ]; then
  echo "plot_test: $work/curves.png is not a PNG" >&2
  exit 1
fi
if "$python" "$plot" "$work/train.txt" --out "$work/bad.png" 2>"$work/plot.err" ||
  ! grep -qF "$work/train.txt: the first line is not epoch,loss,accuracy,lr,img_per_s" \
    "$work/plot.err" || [ -e "$work/bad.png" ]; then
  echo "plot_test: a file that is not a log was not refused:" >&2
  cat "$work/plot.err" >&2
  exit 1
fi
echo "plot_test: $work/curves.png drawn; a file that is not a log refused"
