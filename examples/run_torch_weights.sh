#!/usr/bin/env bash
# Trains the MLP in PyTorch (torch_train_mlp.py), then evaluates its weights in nnlab
# (torch_weights), which exits 1 unless both compute the same. Exits 77 (a skip for CTest)
# with the reason when PyTorch is missing.
# usage: run_torch_weights.sh PATH/TO/torch_weights [BACKEND]
#   NNLAB_PYTHON   an interpreter with torch (default: Debian's /usr/bin/python3, python3-torch)
set -euo pipefail
program=$1
shift
python=${NNLAB_PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import torch' > /dev/null 2>&1; then
  echo "skipping: $python cannot import torch (apt-get install python3-torch, or set NNLAB_PYTHON)"
  exit 77
fi
weights=$(mktemp --suffix .safetensors)
trap 'rm -f "$weights"' EXIT
"$python" "$(dirname "$0")/torch_train_mlp.py" "$weights"
"$program" "$weights" "$@"
