// Sum reduction without float atomics, so the result is the same run to run: pass 1 gives
// each block a grid-stride slice and writes one partial sum per block; pass 2 reduces the
// partials in one block. Inside a block: each warp sums with __shfl_down_sync (lane 0 ends
// with the warp's total), warp totals meet in shared memory, and warp 0 sums those.
// Blocks are whole warps (kThreads is a multiple of 32), as shuffles need.
#include "kernels/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "kernels/api.h"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;

__device__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// The block's total, valid in thread 0.
__device__ float block_sum(float v) {
  __shared__ float warp_totals[32];
  int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
  v = warp_sum(v);
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x) / 32 ? warp_totals[lane] : 0.0f;
    v = warp_sum(v);
  }
  return v;
}

__global__ void sum_kernel(const float* x, int n, float* out) {
  float v = 0.0f;
  for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += int(gridDim.x * blockDim.x)) v += x[i];
  v = block_sum(v);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}
// One thread per column walks down the rows: adjacent threads read adjacent addresses
// (coalesced), and each sum has one fixed order.
__global__ void sum_dim0_kernel(const float* x, int64_t rows, int64_t cols, float* out) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  float acc = 0.0f;
  for (int64_t i = 0; i < rows; ++i) acc += x[i * cols + j];
  out[j] = acc;
}
}  // namespace

void sum_dim0(const float* x, int64_t rows, int64_t cols, float* out) {
  if (cols > 0) NNLAB_LAUNCH(sum_dim0_kernel, dim3(unsigned((cols + kThreads - 1) / kThreads)), dim3(kThreads), 0, x, rows, cols, out);
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
