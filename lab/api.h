// The kernel lab's entry points (the list is lab/api.inc) in each build's namespace:
// nnlab::cuda::lab (nvcc, only in builds with CUDA), nnlab::cuda_sim::lab and
// nnlab::cuda_sim_observed::lab (nnlab/sim/observe.h). The series' names and CPU loops are
// lab/series.h.
#pragma once

namespace nnlab::cuda::lab {
#include "lab/api.inc"
}  // namespace nnlab::cuda::lab

namespace nnlab::cuda_sim::lab {
#include "lab/api.inc"
}  // namespace nnlab::cuda_sim::lab

namespace nnlab::cuda_sim_observed::lab {
#include "lab/api.inc"
}  // namespace nnlab::cuda_sim_observed::lab
