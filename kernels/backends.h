// The backends over the hand-written kernels (kernels/backend.cu), for the registry: `cuda`
// from the nvcc build, `cuda-sim` from the simulator's. Each is created on first use and
// never destroyed.
#pragma once
#include <string>

namespace nnlab {
class Backend;
}

namespace nnlab::cuda_kernels {
Backend& backend();
std::string unavailable_reason();  // "" when a GPU is usable; otherwise why not
}  // namespace nnlab::cuda_kernels

// `cudnn` (kernels/vendor): the cuda backend with cuBLAS and cuDNN where they apply.
namespace nnlab::cudnn_backend {
Backend& backend();
std::string unavailable_reason();  // the cuda backend's reason, when there is one
}  // namespace nnlab::cudnn_backend

namespace nnlab::sim_kernels {
Backend& backend();
std::string unavailable_reason();  // always ""
}  // namespace nnlab::sim_kernels

// `cuda-sim` over the observed build of the kernels (kernels/sim/observe.h): the same backend,
// whose every kernel memory access is counted and checked while a sim::Recording is alive.
namespace nnlab::sim_observed_kernels {
Backend& backend();
std::string unavailable_reason();  // always "" (sim::observation_unavailable_reason says more)
}  // namespace nnlab::sim_observed_kernels
