#!/usr/bin/env bash
# CI test that a tapegrad ResNet checkpoint, BatchNorm buffers and all, is the PyTorch twin's
# model: evaluate_in_pytorch.py loads the checkpoint smoke_test.sh saved after its last epoch
# into bench/resnet_torch.py's ResNet and must count as many test images right as tapegrad
# printed (1,000 images: the accuracy's 4 decimals are the count). Exits 77 (skipped) where
# PYTHON has no torch.
# usage: pytorch_test.sh PYTHON SMOKE_WORK_DIR
set -euo pipefail
python=$1 work=$2
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "pytorch_test: skipped: $python cannot import torch (Debian: python3-torch)"
  exit 77
fi
expected=$(awk '$1 == "epoch" { a = $10 } END { print a }' "$work/train.txt")
output=$("$python" "$(dirname "${BASH_SOURCE[0]}")/evaluate_in_pytorch.py" \
  "$work/straight.safetensors" "$work/data")
echo "$output"
got=$(echo "$output" | sed -n 's/.*: \([0-9.]*\) (.*/\1/p')
if [ -z "$expected" ] || [ "$got" != "$expected" ]; then
  echo "pytorch_test: PyTorch's accuracy '$got' is not tapegrad's '$expected'" >&2
  exit 1
fi
echo "pytorch_test: PyTorch evaluates tapegrad's checkpoint to tapegrad's accuracy, $expected"
