// The backend over the hand-written kernels (kernels/gpu_backend.h), written once against the
// CUDA runtime API: with nvcc it is `cuda`, and compiled as C++ over kernels/sim/runtime.h it
// is `cuda-sim`, so the host code the GPU runs is the code the simulator tests.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "kernels/backends.h"
#include "kernels/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "kernels/api.h"

#include "kernels/gpu_backend.h"

Backend& backend() {
  static auto* b =
      new GpuBackend;  // never destroyed, as the CPU backends (see backends/registry.cpp)
  return *b;
}

std::string unavailable_reason() {
#ifdef NNLAB_SIM
  return "";
#else
  static const std::string reason = [] {  // asked once: the answer cannot change
    int count = 0;                        // left untouched when the call fails
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess)
      return std::string("no usable GPU: CUDA error ") + std::to_string(int(err)) + ", " +
             cudaGetErrorString(err);
    return std::string(count == 0 ? "no GPU found" : "");
  }();
  return reason;
#endif
}

}  // namespace nnlab::NNLAB_KERNELS
