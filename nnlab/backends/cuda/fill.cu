// Fills: constants, and Philox random numbers where element i uses counter offset + i (the
// header nnlab/core/philox.h is shared with the CPU backends), so a seed gives the same tensor on
// every backend and every GPU. One thread per element, 256-thread blocks.
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"
#include "nnlab/core/philox.h"

namespace nnlab::NNLAB_KERNELS {

namespace {
constexpr int kThreads = 256;

__global__ void fill_kernel(float* x, float value, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = value;
}
__global__ void fill_int_kernel(int* x, int value, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = value;
}
__global__ void uniform_kernel(float* x, int64_t n, double low, double high, uint64_t seed,
                               uint64_t offset) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = float(philox::uniform(seed, offset + uint64_t(i), low, high));
}
__global__ void normal_kernel(float* x, int64_t n, double mean, double std, uint64_t seed,
                              uint64_t offset) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = float(philox::normal(seed, offset + uint64_t(i), mean, std));
}
__global__ void dropout_kernel(float* mask, int64_t n, double p, uint64_t seed, uint64_t offset) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n)
    mask[i] = philox::uniform(seed, offset + uint64_t(i), 0, 1) < p ? 0.0f : float(1.0 / (1.0 - p));
}
}  // namespace

void dropout_mask(float* mask, int64_t n, double p, uint64_t seed, uint64_t offset) {
  if (n > 0)
    NNLAB_LAUNCH(dropout_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, mask, n, p, seed,
                 offset);
}

void fill(float* x, float value, int64_t n) {
  if (n > 0) NNLAB_LAUNCH(fill_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, x, value, n);
}
void fill_int(int* x, int value, int64_t n) {
  if (n > 0) NNLAB_LAUNCH(fill_int_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, x, value, n);
}
void fill_uniform(float* x, int64_t n, double low, double high, uint64_t seed, uint64_t offset) {
  if (n > 0)
    NNLAB_LAUNCH(uniform_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, x, n, low, high, seed,
                 offset);
}
void fill_normal(float* x, int64_t n, double mean, double std, uint64_t seed, uint64_t offset) {
  if (n > 0)
    NNLAB_LAUNCH(normal_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, x, n, mean, std, seed,
                 offset);
}

}  // namespace nnlab::NNLAB_KERNELS
