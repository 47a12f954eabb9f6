#!/usr/bin/env bash
# On a machine with a GPU, in one go: build for the local GPU architecture, run every test
# (the gpu label included), compare_devices on real MNIST with every backend, and the speed
# benchmarks, all into one log (gpu_check.log, or $1). Meant to fit in a few minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
log=${1:-gpu_check.log}
build=build-gpu
{
  echo "== gpu_check $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi failed"
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
  echo "== build (CMAKE_CUDA_ARCHITECTURES=${arch:-75;90})"
  scripts/setup
  NNLAB_BUILD=$build scripts/build -DNNLAB_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${arch:-75;90}" || exit 1
  echo "== tests, every label"
  (cd $build && ctest --output-on-failure -j "$(nproc)")
  echo "== compare_devices, MNIST MLP, 1 epoch, every backend (cuda-sim on a subset)"
  $build/apps/compare_devices --epochs 1 --quiet --profile --plot gpu_check_mnist.png
  $build/apps/compare_devices --epochs 1 --limit 2000 --backends cpu,cuda-sim --quiet
  echo "== bench_ops: every op at the models' shapes, GEMM variants (cpu and the GPU backends)"
  $build/apps/bench_ops --min-time 0.05 --csv gpu_check_ops.csv
  echo "== training speed, ResNet-18 64x64 batch 32"
  $build/bench/model_speed resnet18 64 32 10 cpu 2
  $build/bench/model_speed resnet18 64 32 10 cuda
  echo "== simulator speed (CPU time of a simulation)"
  $build/bench/bench_sim
} 2>&1 | tee "$log"
