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

// Mixed precision's 16-bit activations (T = __half or __nv_bfloat16): float32 arithmetic and
// one rounding per result. A float32 sum or product of two 16-bit values rounded to 16 bits
// is the exact result rounded once (float32's 24 bits are at least 2p + 2 for float16's and
// bfloat16's p, so the double rounding is innocuous), as reference's; scale rounds alpha to
// float32 first, where reference multiplies by the double. Each thread takes two neighbouring
// elements; where every pointer is 4-byte aligned (`paired`, the same for the whole launch)
// it moves them in one 32-bit access (Pair<T>), else one at a time, as it does for an odd
// last element. One kernel serves the five operations (`op` is the same for every thread, so
// the switch costs no divergence); unary ones ignore their second operand.
enum class Op16 { Add, Mul, Scale, Relu, ReluGrad };
__device__ __forceinline__ float apply(Op16 op, float a, float b, float alpha) {
  switch (op) {
    case Op16::Add: return a + b;
    case Op16::Mul: return a * b;
    case Op16::Scale: return alpha * a;
    case Op16::Relu: return a > 0.0f ? a : 0.0f;
    default: return b > 0.0f ? a : 0.0f;  // ReluGrad(dy, y): the gradient passes where y > 0
  }
}
template <typename T>
__global__ void elementwise_16_kernel(Op16 op, const T* a, const T* b, float alpha, T* out, int64_t n,
                                      bool paired) {
  int64_t i = 2 * (int64_t(blockIdx.x) * blockDim.x + threadIdx.x);
  if (i >= n) return;
  if (paired && i + 1 < n) {
    float2 x = widen(reinterpret_cast<const Pair<T>*>(a)[i / 2]);
    float2 y = widen(reinterpret_cast<const Pair<T>*>(b)[i / 2]);
    reinterpret_cast<Pair<T>*>(out)[i / 2] = narrow_pair<T>(apply(op, x.x, y.x, alpha), apply(op, x.y, y.y, alpha));
    return;
  }
  for (int64_t e = i; e < i + 2 && e < n; ++e) out[e] = narrow<T>(apply(op, widen(a[e]), widen(b[e]), alpha));
}

// y[i] += bias[i % cols] on 16-bit y and bias, two elements per thread as above.
template <typename T>
__global__ void bias_add_16_kernel(T* y, const T* bias, int64_t rows, int64_t cols, bool paired) {
  int64_t n = rows * cols, i = 2 * (int64_t(blockIdx.x) * blockDim.x + threadIdx.x);
  if (i >= n) return;
  if (paired && i + 1 < n) {
    float2 v = widen(reinterpret_cast<const Pair<T>*>(y)[i / 2]);
    reinterpret_cast<Pair<T>*>(y)[i / 2] =
        narrow_pair<T>(v.x + widen(bias[i % cols]), v.y + widen(bias[(i + 1) % cols]));
    return;
  }
  for (int64_t e = i; e < i + 2 && e < n; ++e) y[e] = narrow<T>(widen(y[e]) + widen(bias[e % cols]));
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
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    NNLAB_LAUNCH(cast_to_16_kernel<T>, blocks_for(n, kThreads), dim3(kThreads), 0, in, as<T>(out), n);
  });
}
void cast_from_16(const uint16_t* in, float* out, int64_t n, Float16Kind kind) {
  if (n == 0) return;
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    NNLAB_LAUNCH(cast_from_16_kernel<T>, blocks_for(n, kThreads), dim3(kThreads), 0, as<T>(in), out, n);
  });
}

namespace {
bool aligned4(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 4 == 0;
}
void elementwise_16(Float16Kind kind, Op16 op, const uint16_t* a, const uint16_t* b, float alpha, uint16_t* out,
                    int64_t n) {
  if (n == 0) return;
  bool paired = aligned4(a) && aligned4(b) && aligned4(out);
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    NNLAB_LAUNCH(elementwise_16_kernel<T>, blocks_for((n + 1) / 2, kThreads), dim3(kThreads), 0, op, as<T>(a),
                 as<T>(b), alpha, as<T>(out), n, paired);
  });
}
}  // namespace

void add_16(Float16Kind kind, const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n) {
  elementwise_16(kind, Op16::Add, a, b, 0.0f, out, n);
}
void mul_16(Float16Kind kind, const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n) {
  elementwise_16(kind, Op16::Mul, a, b, 0.0f, out, n);
}
void scale_16(Float16Kind kind, const uint16_t* x, float alpha, uint16_t* out, int64_t n) {
  elementwise_16(kind, Op16::Scale, x, x, alpha, out, n);
}
void relu_forward_16(Float16Kind kind, const uint16_t* x, uint16_t* y, int64_t n) {
  elementwise_16(kind, Op16::Relu, x, x, 0.0f, y, n);
}
void relu_backward_16(Float16Kind kind, const uint16_t* dy, const uint16_t* y, uint16_t* dx, int64_t n) {
  elementwise_16(kind, Op16::ReluGrad, dy, y, 0.0f, dx, n);
}
void bias_add_16(Float16Kind kind, uint16_t* y, const uint16_t* bias, int64_t rows, int64_t cols) {
  int64_t n = rows * cols;
  if (n == 0) return;
  bool paired = aligned4(y);  // bias is read one element at a time: its pairs may straddle rows
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    NNLAB_LAUNCH(bias_add_16_kernel<T>, blocks_for((n + 1) / 2, kThreads), dim3(kThreads), 0, as<T>(y), as<T>(bias),
                 rows, cols, paired);
  });
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
