#!/usr/bin/env bash
# The CNN targets of the CPU backend, side by side with PyTorch (2 threads each), in one run:
# one LeNet epoch on real CIFAR-10 (Adam, batch 64; training-loop seconds), and ResNet-18
# training images/s at 64x64 and 224x224 (batch 32, SGD momentum 0.9, random inputs).
# Needs scripts/fetch_cifar10, a build, and /usr/bin/python3 with torch + libopenblas0-openmp.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NNLAB_BUILD:-build}
echo "== LeNet, one CIFAR-10 epoch"
"$build"/apps/train --model lenet --data cifar10 --optimizer adam --lr 1e-3 --norm-mean 0.5 --norm-std 0.5 \
  --epochs 1 --threads 2 | awk '$1 == 1 {printf "nnlab cpu: %s s, test accuracy %s\n", $4, $3}'
/usr/bin/python3 bench/torch_cnn.py lenet --threads 2
for size in 64 224; do
  steps=$([ "$size" = 64 ] && echo 10 || echo 3)
  echo "== ResNet-18 training, ${size}x${size}, batch 32, $steps steps"
  "$build"/bench/model_speed resnet18 "$size" 32 "$steps" cpu 2
  /usr/bin/python3 bench/torch_cnn.py resnet18 --image-size "$size" --steps "$steps" --threads 2
done
