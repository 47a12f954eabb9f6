// Sum reduction without float atomics, so the result is the same run to run: pass 1 gives
// each block a grid-stride slice and writes one partial sum per block; pass 2 reduces the
// partials in one block (nnlab/backends/cuda/block_reduce.cuh sums within a block).
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "nnlab/backends/cuda/block_reduce.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;

__global__ void sum_kernel(const float* x, int n, float* out) {
  float v = 0.0f;
  for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += int(gridDim.x * blockDim.x))
    v += x[i];
  v = block_sum(v);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}
// One thread per column walks down the rows: adjacent threads read adjacent addresses
// (coalesced), and each sum has one fixed order. T: float, or a 16-bit type summed in float32
// and rounded once.
template <typename T>
__global__ void sum_dim0_kernel(const T* x, int64_t rows, int64_t cols, T* out) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  float acc = 0.0f;
  for (int64_t i = 0; i < rows; ++i) acc += widen(x[i * cols + j]);
  out[j] = narrow<T>(acc);
}
template <typename T>
void launch_sum_dim0(const T* x, int64_t rows, int64_t cols, T* out) {
  if (cols > 0)
    NNLAB_LAUNCH(sum_dim0_kernel<T>, dim3(unsigned((cols + kThreads - 1) / kThreads)), dim3(kThreads), 0, x, rows,
                 cols, out);
}
}  // namespace

void sum_dim0(const float* x, int64_t rows, int64_t cols, float* out) {
  launch_sum_dim0(x, rows, cols, out);
}
void sum_dim0_16(Float16Kind kind, const uint16_t* x, int64_t rows, int64_t cols, uint16_t* out) {
  with_storage(kind, [&](auto type) { launch_sum_dim0(as<decltype(type)>(x), rows, cols, as<decltype(type)>(out)); });
}

int reduce_partials(int n) {
  int blocks = (n + kThreads - 1) / kThreads;
  return blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks);
}

void sum(const float* x, int n, float* partials, float* out) {
  int blocks = reduce_partials(n);
  NNLAB_LAUNCH(sum_kernel, dim3(unsigned(blocks)), dim3(kThreads), 0, x, n, partials);
  NNLAB_LAUNCH(sum_kernel, dim3(1), dim3(kThreads), 0, partials, blocks, out);
}

}  // namespace nnlab::NNLAB_KERNELS
