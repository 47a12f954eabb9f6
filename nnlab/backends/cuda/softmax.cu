// Row softmax, one block per row. The row is staged in dynamic shared memory (its size is
// known only at launch), so it is read from global memory once; max and sum are block
// reductions through a shared scratch array (a tree with a __syncthreads per level).
// Subtracting the row maximum keeps expf finite.
// The classification ops (log-softmax, NLL, the fused cross-entropy backward, argmax) work on
// [batch, classes] with few classes: one thread per row, which keeps each row's sums in one
// fixed order; the batch mean of NLL is a second, two-pass reduction (reduce.cu).
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"

namespace nnlab::NNLAB_KERNELS {

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
  for (int j = int(threadIdx.x); j < cols; j += kThreads)
    y[size_t(blockIdx.x) * size_t(cols) + size_t(j)] = row[j] / total;
}
__global__ void log_softmax_kernel(const float* x, float* y, int64_t rows, int64_t cols) {
  int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const float* in = x + r * cols;
  float mx = in[0], total = 0.0f;
  for (int64_t j = 1; j < cols; ++j) mx = fmaxf(mx, in[j]);
  for (int64_t j = 0; j < cols; ++j) total += expf(in[j] - mx);
  float log_total = mx + logf(total);
  for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = in[j] - log_total;
}

// dx = dy - softmax * sum(dy) per row, with softmax = exp(y).
__global__ void log_softmax_backward_kernel(const float* dy, const float* y, float* dx,
                                            int64_t rows, int64_t cols) {
  int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  float total = 0.0f;
  for (int64_t j = 0; j < cols; ++j) total += dy[r * cols + j];
  for (int64_t j = 0; j < cols; ++j)
    dx[r * cols + j] = dy[r * cols + j] - expf(y[r * cols + j]) * total;
}

__global__ void pick_kernel(const float* logp, const int* labels, int64_t rows, int64_t cols,
                            float* picked) {
  int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r < rows) picked[r] = logp[r * cols + labels[r]];
}

__global__ void nll_backward_kernel(const float* dout, const int* labels, float* dlogp,
                                    int64_t rows, int64_t cols) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  int64_t r = i / cols;
  dlogp[i] = (i % cols == labels[r]) ? -dout[0] / float(rows) : 0.0f;
}

__global__ void cross_entropy_backward_kernel(const float* dout, const float* logp,
                                              const int* labels, float* dlogits, int64_t rows,
                                              int64_t cols) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  int64_t r = i / cols;
  float g = dout[0] / float(rows);
  dlogits[i] = g * (expf(logp[i]) - (i % cols == labels[r] ? 1.0f : 0.0f));
}

// The first maximum wins ties, as torch.argmax.
__global__ void argmax_kernel(const float* x, int* out, int64_t rows, int64_t cols) {
  int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  int64_t best = 0;
  for (int64_t j = 1; j < cols; ++j)
    if (x[r * cols + j] > x[r * cols + best]) best = j;
  out[r] = int(best);
}

}  // namespace

void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  if (rows > 0)
    NNLAB_LAUNCH(log_softmax_kernel, blocks_for(rows, kThreads), dim3(kThreads), 0, x, y, rows,
                 cols);
}
void log_softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols) {
  if (rows > 0)
    NNLAB_LAUNCH(log_softmax_backward_kernel, blocks_for(rows, kThreads), dim3(kThreads), 0, dy, y,
                 dx, rows, cols);
}
void nll_loss_forward(const float* logp, const int* labels, int64_t rows, int64_t cols,
                      float* scratch, float* out) {
  NNLAB_LAUNCH(pick_kernel, blocks_for(rows, kThreads), dim3(kThreads), 0, logp, labels, rows, cols,
               scratch);
  sum(scratch, int(rows), scratch + rows, out);
  scale(out, -1.0f / float(rows), out, 1);
}
void nll_loss_backward(const float* dout, const int* labels, float* dlogp, int64_t rows,
                       int64_t cols) {
  NNLAB_LAUNCH(nll_backward_kernel, blocks_for(rows * cols, kThreads), dim3(kThreads), 0, dout,
               labels, dlogp, rows, cols);
}
void cross_entropy_backward(const float* dout, const float* logp, const int* labels, float* dlogits,
                            int64_t rows, int64_t cols) {
  NNLAB_LAUNCH(cross_entropy_backward_kernel, blocks_for(rows * cols, kThreads), dim3(kThreads), 0,
               dout, logp, labels, dlogits, rows, cols);
}
void argmax(const float* x, int* out, int64_t rows, int64_t cols) {
  if (rows > 0)
    NNLAB_LAUNCH(argmax_kernel, blocks_for(rows, kThreads), dim3(kThreads), 0, x, out, rows, cols);
}

void softmax_rows(const float* x, float* y, int rows, int cols) {
  size_t shared = (size_t(cols) + kThreads) * sizeof(float);
  NNLAB_LAUNCH(softmax_rows_kernel, dim3(unsigned(rows)), dim3(kThreads), shared, x, y, cols);
}

}  // namespace nnlab::NNLAB_KERNELS
