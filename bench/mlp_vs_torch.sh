#!/usr/bin/env bash
# The issue's MLP targets, measured side by side in one run: nnlab's `cpu` backend and
# PyTorch (Debian's python3-torch with OpenBLAS), both with 2 threads, on the compare_devices
# default recipe (MLP 784-128-10, SGD lr 0.01, batch 64, 5 epochs, real MNIST). The two are
# interleaved ROUNDS times so that a noisy machine affects both alike; per framework it prints
# every epoch's training seconds, the best and median epoch, and the final test accuracy.
# Needs: scripts/setup done, a build in $NNLAB_BUILD (default build/), /usr/bin/python3 with
# torch, and libopenblas0-openmp (without it PyTorch uses the slow reference BLAS).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
build=${NNLAB_BUILD:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq "$rounds"); do
  "$build"/apps/train --backend cpu --threads 2 --epochs 5 |
    awk '$1 ~ /^[0-9]+$/ {print $4, $3}' >> "$out/nnlab"
  /usr/bin/python3 bench/torch_mlp.py --threads 2 --epochs 5 |
    /usr/bin/python3 -c 'import sys, json
for l in sys.stdin:
    d = json.loads(l); print(d["train_seconds"], "%.2f%%" % (100 * d["test_accuracy"]))' >> "$out/torch"
done
summary() {  # file label
  sort -n -k1,1 "$1" | awk -v label="$2" '{ t[NR] = $1 } END {
    printf "%-8s epochs %d  best %.3f s  median %.3f s\n", label, NR, t[1], t[int((NR + 1) / 2)] }'
  echo "         final accuracies: $(awk 'NR % 5 == 0 {printf "%s ", $2}' "$1")"
}
summary "$out/nnlab" nnlab
summary "$out/torch" pytorch
