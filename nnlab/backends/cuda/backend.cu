// The registry's entry points for the backend over the hand-written kernels (backend.h):
// `cuda` in the nvcc build, `cuda-sim` in the simulator's.
#include <string>

#include "nnlab/backends/cuda/backend.h"
#include "nnlab/backends/cuda/instance.h"

namespace nnlab::NNLAB_KERNELS {

Backend& backend() {
  static auto* b =
      new CudaBackend;  // never destroyed, as the CPU backends (see registry.cpp)
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
