// Elementwise kernels: one thread per element, 256-thread blocks, a bounds check for the
// last block. Memory-bound: their speed is bytes moved per second.
#include "kernels/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "kernels/api.h"

namespace {
constexpr int kThreads = 256;

__global__ void axpy_kernel(float alpha, const float* x, float* y, int n) {
  int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = alpha * x[i] + y[i];
}
}  // namespace

void axpy(float alpha, const float* x, float* y, int n) {
  NNLAB_LAUNCH(axpy_kernel, dim3(unsigned((n + kThreads - 1) / kThreads)), dim3(kThreads), 0, alpha, x, y, n);
}

}  // namespace nnlab::NNLAB_KERNELS
