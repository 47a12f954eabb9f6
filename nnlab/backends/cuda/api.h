// Host-side entry points of the hand-written kernels (the list is api.inc), declared in every
// build's namespace: nnlab::cuda (compiled by nvcc, defined only in builds with CUDA),
// nnlab::cuda_sim (the same sources run by the CPU simulator, always defined) and
// nnlab::cuda_sim_observed (the simulator's build whose memory accesses are counted and
// checked; nnlab/sim/observe.h). Tests, the
// benchmarks and kernel_lab call them directly, e.g. nnlab::cuda_sim::gemm_variant(...).
#pragma once
#include <cstdint>

namespace nnlab::cuda {
#include "nnlab/backends/cuda/api.inc"
}  // namespace nnlab::cuda

namespace nnlab::cuda_sim {
#include "nnlab/backends/cuda/api.inc"
}  // namespace nnlab::cuda_sim

namespace nnlab::cuda_sim_observed {
#include "nnlab/backends/cuda/api.inc"
}  // namespace nnlab::cuda_sim_observed
