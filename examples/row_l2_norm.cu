// A custom CUDA kernel in nnlab's portable subset (nnlab/sim/README.md lists it): the L2 norm
// of each row of a [rows, cols] matrix. The same file compiles twice, as nnlab's own kernels
// do: with nvcc for `cuda`, and as C++ for the CUDA simulator (nnlab_add_sim_kernels in
// CMakeLists.txt), each build in its own namespace, row_norms::cuda or row_norms::cuda_sim.
#include <nnlab/backends/cuda/portable.h>

namespace row_norms::NNLAB_KERNELS {
using namespace ::nnlab::NNLAB_KERNELS;  // dim3, atomics, blocks_for of this build

constexpr int kThreads = 256;  // a multiple of 32: whole warps, as the shuffles need

// One block per row. Each thread sums the squares of a strided slice of the row; each warp
// adds its 32 sums with shuffles; warp 0 adds the warps' sums, which meet in shared memory.
__global__ void row_l2_norm_kernel(const float* x, float* norms, int cols) {
  __shared__ float warp_sums[kThreads / 32];
  const float* row = x + int64_t(blockIdx.x) * cols;
  float sum = 0;
  for (int c = int(threadIdx.x); c < cols; c += int(blockDim.x)) sum += row[c] * row[c];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
  if (lane == 0) warp_sums[warp] = sum;
  __syncthreads();  // without it warp 0 may read sums not yet written: the simulator's FIFO
                    // and random thread orders expose that as wrong norms
  if (warp == 0) {
    sum = lane < kThreads / 32 ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) norms[blockIdx.x] = sqrtf(sum);
  }
}

// Host side: x and norms are device memory (a tensor's data on the backend).
void row_l2_norm(const float* x, float* norms, int rows, int cols) {
  NNLAB_LAUNCH(row_l2_norm_kernel, dim3(unsigned(rows)), dim3(kThreads), 0, x, norms, cols);
}

}  // namespace row_norms::NNLAB_KERNELS
