#!/usr/bin/env bash
# On a machine with a GPU, in one go: build for the local GPU architecture, run every test
# (the gpu label included), compare_devices on real MNIST with every backend, bench_ops and
# the speed benchmarks, all into one log (gpu_check.log, or $1), with explicit answers to what
# could only be checked on a GPU (launch errors, out-of-memory retry, kernel faults, cuDNN's
# choices per layer). Meant to fit in a few minutes.
# On a bare, offline machine it takes the build dependencies and data from .gpu_kit/, made
# beforehand by scripts/gpu_kit where the package registries are reachable. Data-parallel
# training with NCCL runs on 1 GPU and on all of them (mpirun from the system or the kit).
set -uo pipefail
cd "$(dirname "$0")/.."
log=${1:-gpu_check.log}
out=$(dirname "$log")  # the chart, its gnuplot script and bench_ops' CSV go next to the log
build=build-gpu
kit=$PWD/.gpu_kit
{
  echo "== gpu_check $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi failed"
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
  cmake_args=()
  if [ -d "$kit/debs" ]; then
    echo "== dependencies and data from $kit"
    root=$kit/root
    rm -rf "$root" && mkdir -p "$root"
    for f in "$kit"/debs/*.deb; do dpkg -x "$f" "$root"; done  # into the kit, never into /
    libdir=$root/usr/lib/x86_64-linux-gnu
    ln -sf "$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)" "$libdir/libz.so"
    export CMAKE_PREFIX_PATH=$root/usr CPATH=$root/usr/include LD_LIBRARY_PATH=$libdir:${LD_LIBRARY_PATH:-}
    export NNLAB_DATA=$kit/data NNLAB_PYTHON=$(command -v python3)
    # Open MPI from the kit, relocated: it finds its plugins and help files under OPAL_PREFIX.
    if ! command -v mpirun >/dev/null && [ -x "$root/usr/bin/orterun" ]; then
      export OPAL_PREFIX=$root/usr OMPI_MCA_mca_base_component_show_load_errors=0
      mkdir -p "$root/bin"
      ln -sf "$root/usr/bin/orterun" "$root/bin/mpirun"
      ln -sf "$root/usr/bin/opal_wrapper" "$root/bin/mpicxx"
      export PATH=$root/bin:$PATH
      cmake_args+=("-DMPI_CXX_COMPILER=$root/bin/mpicxx" "-DMPIEXEC_EXECUTABLE=$root/bin/mpirun")
    fi
    # cuDNN from the toolkit if it has it, else from PyTorch's nvidia-cudnn wheel.
    if [ ! -e /usr/local/cuda/include/cudnn.h ]; then
      cudnn=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null)
      [ -n "$cudnn" ] && cmake_args+=("-DCUDNN_ROOT=$cudnn") && export LD_LIBRARY_PATH=$cudnn/lib:$LD_LIBRARY_PATH
    fi
  else
    scripts/setup
  fi
  echo "== build (CMAKE_CUDA_ARCHITECTURES=${arch:-75;90})"
  NNLAB_BUILD=$build scripts/build -DNNLAB_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${arch:-75;90}" \
    "${cmake_args[@]}" || exit 1
  echo "== tests, every label"
  (cd $build && ctest --output-on-failure -j "$(nproc)")
  echo "== what the host-code review (issue 20) could not settle without a GPU"
  echo "-- refused launch configurations: the GPU's error against the simulator's"
  $build/tests/test_kernels_gpu -tc="gpu: a launch the GPU refuses*"
  echo "-- the allocator's out-of-memory retry on the device, the next launch, the message"
  $build/tests/test_kernels_gpu -tc="gpu: out of memory on the device*"
  echo "-- a kernel fault: sticky, and the allocator reports it as itself (a process of its own)"
  $build/tests/test_kernels_gpu --no-skip -tc="gpu: a kernel fault*"
  echo "-- cudnn: GEMM with k = 0 (hand-written path), two batch norms of different eps"
  NNLAB_TEST_DEVICES=gpu $build/tests/test_parity -tc="parity: every op case*" \
    -sc="*matmul 3x0*,*batch_norm2d twice*"
  echo "-- cudnn: algorithm, math type and workspace chosen per convolution shape, fp32 then tf32"
  for precision in fp32 tf32; do
    NNLAB_CUDNN_VERBOSE=1 $build/apps/train --backend cudnn --model resnet18-small \
      --data fashion-mnist --image-size 32 --channels 3 --limit 256 --epochs 1 \
      --precision $precision --quiet
  done
  echo "== compare_devices, MNIST MLP, 1 epoch, every backend (cuda-sim on a subset)"
  $build/apps/compare_devices --epochs 1 --quiet --profile --plot "$out/gpu_check_mnist.png"
  $build/apps/compare_devices --epochs 1 --limit 2000 --backends cpu,cuda-sim --quiet
  gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
  if grep -q "NNLAB_HAVE_NCCL 1" $build/include/nnlab/config.h && command -v mpirun >/dev/null &&
     [ "$gpus" -ge 1 ]; then
    echo "== data parallel, NCCL on the compute stream: 1 GPU, then all ${gpus} (one rank per GPU)"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # the lent machines run as root
    lenet=(--model lenet --data fashion-mnist --image-size 32 --channels 3 --epochs 1)
    for backend in cudnn cuda; do
      for ranks in 1 "$gpus"; do
        echo "-- $backend, $ranks rank(s), LeNet on Fashion-MNIST, batch 64 per rank, --profile"
        mpirun -np "$ranks" --bind-to none $build/apps/train --backend $backend "${lenet[@]}" --profile
      done
    done
    echo "-- 1 GPU batch 128 against $gpus GPU(s) of batch $((128 / gpus)) (the same global batch)"
    $build/apps/train --backend cudnn "${lenet[@]}" --batch-size 128 --quiet
    mpirun -np "$gpus" --bind-to none $build/apps/train --backend cudnn "${lenet[@]}" \
      --batch-size $((128 / gpus)) --quiet
    $build/apps/sweep --vary ranks=1,$gpus --backend cudnn --launcher "mpirun --bind-to none -np {ranks}" \
      "${lenet[@]}" --quiet
  else
    echo "== data parallel with NCCL skipped: $gpus GPU(s); mpirun: $(command -v mpirun || echo none);" \
      "$(grep NNLAB_HAVE_NCCL $build/include/nnlab/config.h)"
  fi
  echo "== bench_ops: every op at the models' shapes, GEMM variants (cpu and the GPU backends)"
  $build/apps/bench_ops --min-time 0.05 --csv "$out/gpu_check_ops.csv"
  # The timing model (docs/gpu_model.md) against this GPU: predicted and measured per step.
  # The prediction is for the table's entry of this GPU where there is one, else for t4.
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  case "$name" in
    *T4*) key=t4 ;; *A100*) key=a100 ;; *H100*) key=h100 ;; *L4*) key=l4 ;; *A6000*) key=rtx-a6000 ;;
    *V100*) key=v100 ;; *) key=t4 ;;
  esac
  echo "== kernel_lab: the lab's series measured on $name, predicted for $key"
  for series in reduction transpose sgemm; do
    $build/apps/kernel_lab --series "$series" --gpu "$key" --csv "$out/gpu_check_lab_$series.csv"
  done
  echo "== training speed, ResNet-18 64x64 batch 32"
  $build/bench/model_speed resnet18 64 32 10 cpu 2
  $build/bench/model_speed resnet18 64 32 10 cuda
  $build/bench/model_speed resnet18 64 32 10 cudnn
  echo "== simulator speed (CPU time of a simulation)"
  $build/bench/bench_sim
} 2>&1 | tee "$log"
