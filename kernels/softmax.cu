// Row softmax, one block per row. The row is staged in dynamic shared memory (its size is
// known only at launch), so it is read from global memory once; max and sum are block
// reductions through a shared scratch array (a tree with a __syncthreads per level).
// Subtracting the row maximum keeps expf finite.
#include "kernels/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "kernels/api.h"

namespace {
constexpr int kThreads = 128;  // a power of two, for the tree reduction

// scratch[0] = combine over every thread's value, visible to all threads on return.
template <typename Combine>
__device__ float block_reduce(float v, float* scratch, Combine combine) {
  int t = int(threadIdx.x);
  scratch[t] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half) scratch[t] = combine(scratch[t], scratch[t + half]);
    __syncthreads();
  }
  float result = scratch[0];
  __syncthreads();  // everyone has read scratch[0] before it is reused
  return result;
}

__global__ void softmax_rows_kernel(const float* x, float* y, int cols) {
  NNLAB_DYNAMIC_SHARED(float, shared);  // cols values of the row, then kThreads of scratch
  float* row = shared;
  float* scratch = shared + cols;
  const float* in = x + size_t(blockIdx.x) * size_t(cols);
  float local_max = -INFINITY;
  for (int j = int(threadIdx.x); j < cols; j += kThreads) {
    row[j] = in[j];
    local_max = fmaxf(local_max, row[j]);
  }
  float row_max = block_reduce(local_max, scratch, [](float a, float b) { return fmaxf(a, b); });
  float local_sum = 0.0f;
  for (int j = int(threadIdx.x); j < cols; j += kThreads) {
    row[j] = expf(row[j] - row_max);
    local_sum += row[j];
  }
  float total = block_reduce(local_sum, scratch, [](float a, float b) { return a + b; });
  for (int j = int(threadIdx.x); j < cols; j += kThreads) y[size_t(blockIdx.x) * size_t(cols) + size_t(j)] = row[j] / total;
}
}  // namespace

void softmax_rows(const float* x, float* y, int rows, int cols) {
  size_t shared = (size_t(cols) + kThreads) * sizeof(float);
  NNLAB_LAUNCH(softmax_rows_kernel, dim3(unsigned(rows)), dim3(kThreads), shared, x, y, cols);
}

}  // namespace nnlab::NNLAB_KERNELS
