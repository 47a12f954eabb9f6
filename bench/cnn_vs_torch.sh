#!/usr/bin/env bash
# The cpu backend's targets side by side with PyTorch 1.13 (2 threads each), in one run, as the
# README's table: fp32 GEMM at 1024^3 / 2048^3 / 4096^3 (torch.mm into a preallocated output),
# the MLP recipe's epoch (SGD, batch 64, real MNIST), one LeNet epoch on real CIFAR-10 (Adam,
# batch 64; training-loop seconds), ResNet-18 training images/s at 64x64 and 224x224 (batch
# 32, SGD momentum 0.9, random inputs) and the memory those ResNet-18 runs took (peak resident
# set minus the resident set before the model was built, the same reading on both sides).
# nnlab and PyTorch alternate measurement by measurement for ROUNDS rounds (default 3), so
# that other work on the machine slows both alike; the table shows each side's best GEMM and
# median epoch, images/s and memory over the rounds. nnlab's MLP and LeNet epochs run with its
# training loop's thread chooser (apps/common/thread_chooser.h: steps on one thread where the
# machine makes that faster, the same results), as `train` does by default; how many steps ran
# on one thread is printed per round.
# Every round starts and ends with core_round_trip (bench/core_round_trip.cpp), the time a
# cache line takes from one core to the other and back: on a VM it changes as the hypervisor
# moves the vCPUs (on this project's, 55 or 120 ns, and about 350 ns at times). It does not
# tell the phases in which this VM's two vCPUs get one core's worth of work done (a 2-thread
# GEMM at its 1-thread speed); the round-by-round figures do.
# ISA=avx2 compares the AVX2 + FMA code of both on a CPU that has AVX-512 as well: nnlab's build
# must be configured with -DNNLAB_HOST_ARCH=x86-64-v3, and PyTorch's ATen kernels, oneDNN and
# OpenBLAS are told to stop at AVX2 (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA,
# OPENBLAS_CORETYPE). It is the AVX2 code on this CPU's cores, not an AVX2-only machine.
# Needs scripts/fetch_cifar10, a build (gemm_speed, model_speed, train, core_round_trip), and
# /usr/bin/python3 with torch + libopenblas0-openmp (without it PyTorch uses the reference BLAS).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NNLAB_BUILD:-build}
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
isa=${ISA:-native}
py=/usr/bin/python3
case "$isa" in
  native) ;;
  avx2)
    arch=$(sed -n 's/^NNLAB_HOST_ARCH:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null)
    if [ "$arch" != x86-64-v3 ]; then
      echo "cnn_vs_torch.sh: ISA=avx2 needs a build configured with -DNNLAB_HOST_ARCH=x86-64-v3;" \
        "$build/CMakeCache.txt has NNLAB_HOST_ARCH '${arch:-missing}'" >&2
      exit 2
    fi
    py="env ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell $py" ;;
  *) echo "cnn_vs_torch.sh: ISA must be native or avx2, not '$isa'" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# JSON line -> "value" of one field
field() { $py -c 'import sys, json; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }

# From train's output in $out/train.txt: each epoch's seconds, and the steps the thread chooser
# ran on one thread (apps/common/thread_chooser.h: "# epoch N: S steps on one thread ...").
epochs_and_one_thread_steps() {  # stem
  awk '$1 ~ /^[0-9]+$/ {print $4}' "$out/train.txt" >> "$out/$1.nnlab"
  awk '/steps on one thread/ {s += $4} END {print s + 0}' "$out/train.txt" >> "$out/$1.one_thread"
}

for round in $(seq "$rounds"); do
  echo "== round $round of $rounds" >&2
  "$build"/bench/core_round_trip | field round_trip_ns >> "$out/round_trip.start"
  for n in 1024 2048 4096; do
    "$build"/bench/gemm_speed "$n" cpu "$threads" 3 | field gflops >> "$out/gemm$n.nnlab"
    $py bench/torch_cnn.py gemm --size "$n" --steps 3 --threads "$threads" | field gflops >> "$out/gemm$n.torch"
  done
  "$build"/apps/train --backend cpu --threads "$threads" --epochs 2 --quiet > "$out/train.txt"
  epochs_and_one_thread_steps mlp
  $py bench/torch_mlp.py --threads "$threads" --epochs 2 |
    $py -c 'import sys, json
for l in sys.stdin: print(json.loads(l)["train_seconds"])' >> "$out/mlp.torch"
  "$build"/apps/train --model lenet --data cifar10 --optimizer adam --lr 1e-3 --norm-mean 0.5 \
    --norm-std 0.5 --epochs 1 --threads "$threads" --quiet > "$out/train.txt"
  epochs_and_one_thread_steps lenet
  $py bench/torch_cnn.py lenet --threads "$threads" | field seconds >> "$out/lenet.torch"
  for size in 64 224; do
    steps=$([ "$size" = 64 ] && echo 10 || echo 3)
    line=$("$build"/bench/model_speed resnet18 "$size" 32 "$steps" cpu "$threads")
    echo "$line" | field images_per_second >> "$out/resnet$size.nnlab"
    echo "$line" | field memory_bytes >> "$out/memory$size.nnlab"
    line=$($py bench/torch_cnn.py resnet18 --image-size "$size" --steps "$steps" --threads "$threads")
    echo "$line" | field images_per_second >> "$out/resnet$size.torch"
    echo "$line" | field memory_bytes >> "$out/memory$size.torch"
  done
  "$build"/bench/core_round_trip | field round_trip_ns >> "$out/round_trip.end"
done

/usr/bin/python3 - "$out" "$rounds" "$threads" "$isa" <<'EOF'
import statistics, sys, os
out, rounds, threads, isa = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def values(name):
    with open(os.path.join(out, name)) as f:
        return [float(v) for v in f.read().split()]
# (label, file stem, statistic, unit, higher is better, target as nnlab / PyTorch)
rows = [("fp32 GEMM 1024^3", "gemm1024", max, "GFLOP/s", True, ">= 0.9"),
        ("fp32 GEMM 2048^3", "gemm2048", max, "GFLOP/s", True, ">= 0.9"),
        ("fp32 GEMM 4096^3", "gemm4096", max, "GFLOP/s", True, ">= 0.9"),
        ("MLP epoch (SGD, batch 64), median", "mlp", statistics.median, "s", False, "<= 0.6"),
        ("LeNet, one CIFAR-10 epoch (Adam, batch 64), median", "lenet", statistics.median, "s", False, "<= 0.6"),
        ("ResNet-18 training 64x64, batch 32, median", "resnet64", statistics.median, "img/s", True, ">= 1.25"),
        ("ResNet-18 training 224x224, batch 32, median", "resnet224", statistics.median, "img/s", True, ">= 1.25"),
        ("ResNet-18 64x64 training memory, median", "memory64", statistics.median, "MB", False, "<= 1"),
        ("ResNet-18 224x224 training memory, median", "memory224", statistics.median, "MB", False, "<= 1")]
code = "AVX2 + FMA code on both sides" if isa == "avx2" else "each side's best code for this CPU"
print(f"{rounds} interleaved rounds, {threads} threads each, {code}; GEMM: best of the rounds")
print("nnlab's training steps on one thread (its thread chooser), per round: MLP "
      + ", ".join(f"{v:.0f}" for v in values("mlp.one_thread")) + " of 1876; LeNet "
      + ", ".join(f"{v:.0f}" for v in values("lenet.one_thread")) + " of 782")
trips = zip(values("round_trip.start"), values("round_trip.end"))
print("core-to-core round trip at each round's start and end: "
      + ", ".join(f"{a:.0f} / {b:.0f} ns" for a, b in trips))
print()
def formatted(v, unit):
    return f"{v / 1e6:.0f} MB" if unit == "MB" else f"{v:.3f} s" if unit == "s" else f"{v:.1f} {unit}"
print("| measurement | nnlab cpu | PyTorch 1.13 | nnlab / PyTorch | target |")
print("|---|---|---|---|---|")
for label, stem, stat, unit, higher, target in rows:
    ours, theirs = stat(values(stem + ".nnlab")), stat(values(stem + ".torch"))
    print(f"| {label} | {formatted(ours, unit)} | {formatted(theirs, unit)} | {ours / theirs:.2f} | {target} |")
print()
print("Round by round (nnlab / PyTorch):")
for label, stem, stat, unit, higher, target in rows:
    pairs = zip(values(stem + ".nnlab"), values(stem + ".torch"))
    print(f"- {label.split(' (')[0].removesuffix(', median')}: "
          + ", ".join(f"{formatted(a, unit)} / {formatted(b, unit)}" for a, b in pairs))
EOF
