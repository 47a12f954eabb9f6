// Elementwise kernels: one thread per element (64-bit indices), 256-thread blocks, a bounds
// check for the last block. Memory-bound: their speed is bytes moved per second.
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"

namespace nnlab::NNLAB_KERNELS {

namespace {
constexpr int kThreads = 256;

__global__ void axpy_kernel(float alpha, const float* x, float* y, int n) {
  int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = alpha * x[i] + y[i];
}

// The index of this thread's element, or -1 past the end.
__device__ int64_t element(int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  return i < n ? i : -1;
}

__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
  int64_t i = element(n);
  if (i >= 0) out[i] = a[i] + b[i];
}
__global__ void mul_kernel(const float* a, const float* b, float* out, int64_t n) {
  int64_t i = element(n);
  if (i >= 0) out[i] = a[i] * b[i];
}
__global__ void scale_kernel(const float* x, float alpha, float* out, int64_t n) {
  int64_t i = element(n);
  if (i >= 0) out[i] = alpha * x[i];
}
__global__ void expand_scalar_kernel(const float* scalar, float alpha, float* out, int64_t n) {
  int64_t i = element(n);
  if (i >= 0) out[i] = alpha * scalar[0];
}
__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  int64_t i = element(n);
  if (i >= 0) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
// The gradient passes where the output is positive (PyTorch's rule: zero at x == 0).
__global__ void relu_backward_kernel(const float* dy, const float* y, float* dx, int64_t n) {
  int64_t i = element(n);
  if (i >= 0) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
__global__ void bias_add_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  int64_t i = element(rows * cols);
  if (i >= 0) y[i] += bias[i % cols];
}

template <typename T>
__global__ void cast_to_16_kernel(const float* in, T* out, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = narrow<T>(in[i]);
}

template <typename T>
__global__ void cast_from_16_kernel(const T* in, float* out, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = widen(in[i]);
}
}  // namespace

void cast_to_16(const float* in, uint16_t* out, int64_t n, Float16Kind kind) {
  if (n == 0) return;
  if (kind == Float16Kind::Half)
    NNLAB_LAUNCH(cast_to_16_kernel<__half>, blocks_for(n, kThreads), dim3(kThreads), 0, in,
                 reinterpret_cast<__half*>(out), n);
  else
    NNLAB_LAUNCH(cast_to_16_kernel<__nv_bfloat16>, blocks_for(n, kThreads), dim3(kThreads), 0, in,
                 reinterpret_cast<__nv_bfloat16*>(out), n);
}
void cast_from_16(const uint16_t* in, float* out, int64_t n, Float16Kind kind) {
  if (n == 0) return;
  if (kind == Float16Kind::Half)
    NNLAB_LAUNCH(cast_from_16_kernel<__half>, blocks_for(n, kThreads), dim3(kThreads), 0,
                 reinterpret_cast<const __half*>(in), out, n);
  else
    NNLAB_LAUNCH(cast_from_16_kernel<__nv_bfloat16>, blocks_for(n, kThreads), dim3(kThreads), 0,
                 reinterpret_cast<const __nv_bfloat16*>(in), out, n);
}

void add(const float* a, const float* b, float* out, int64_t n) {
  if (n > 0) NNLAB_LAUNCH(add_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, a, b, out, n);
}
void mul(const float* a, const float* b, float* out, int64_t n) {
  if (n > 0) NNLAB_LAUNCH(mul_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, a, b, out, n);
}
void scale(const float* x, float alpha, float* out, int64_t n) {
  if (n > 0)
    NNLAB_LAUNCH(scale_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, x, alpha, out, n);
}
void expand_scalar(const float* scalar, float alpha, float* out, int64_t n) {
  if (n > 0)
    NNLAB_LAUNCH(expand_scalar_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, scalar, alpha,
                 out, n);
}
void relu_forward(const float* x, float* y, int64_t n) {
  if (n > 0) NNLAB_LAUNCH(relu_forward_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, x, y, n);
}
void relu_backward(const float* dy, const float* y, float* dx, int64_t n) {
  if (n > 0)
    NNLAB_LAUNCH(relu_backward_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, dy, y, dx, n);
}
void bias_add(float* y, const float* bias, int64_t rows, int64_t cols) {
  if (rows * cols > 0)
    NNLAB_LAUNCH(bias_add_kernel, blocks_for(rows * cols, kThreads), dim3(kThreads), 0, y, bias,
                 rows, cols);
}

void axpy(float alpha, const float* x, float* y, int n) {
  NNLAB_LAUNCH(axpy_kernel, dim3(unsigned((n + kThreads - 1) / kThreads)), dim3(kThreads), 0, alpha,
               x, y, n);
}

}  // namespace nnlab::NNLAB_KERNELS
