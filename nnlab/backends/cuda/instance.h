// The registry's entry points for the backend over the hand-written kernels (backend.cu):
// `cuda` from the nvcc build, `cuda-sim` from the simulator's. Each is created on first use
// and never destroyed.
#pragma once
#include <string>

namespace nnlab {
class Backend;
}

namespace nnlab::cuda {
Backend& backend();
std::string unavailable_reason();  // "" when a GPU is usable; otherwise why not
}  // namespace nnlab::cuda

namespace nnlab::cuda_sim {
Backend& backend();
std::string unavailable_reason();  // always ""
}  // namespace nnlab::cuda_sim

// `cuda-sim` over the observed build of the kernels (nnlab/sim/observe.h): the same backend,
// whose every kernel memory access is counted and checked while a sim::Recording is alive.
namespace nnlab::cuda_sim_observed {
Backend& backend();
std::string unavailable_reason();  // always "" (sim::observation_unavailable_reason says more)
}  // namespace nnlab::cuda_sim_observed
