// Max and average pooling, one thread per output for the forward passes. The backward passes
// gather (one thread per input pixel, summing over the outputs whose window covers it) rather
// than scatter with atomics, so overlapping windows give the same sum every run. Each kernel
// is templated on its storage type T: float, or __half / __nv_bfloat16 for mixed precision's
// activations (values widened to float32, every sum in float32, each output rounded once).
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"

namespace nnlab::NNLAB_KERNELS {

namespace {
constexpr int kThreads = 256;

// The outputs [p0, p1] x [q0, q1] whose window covers input pixel i (a flat index over all
// planes), and that pixel's plane and position: what both backward gathers need.
struct Covering {
  int64_t plane, ih, iw, p0, p1, q0, q1;
};
__device__ inline void covering_range(int64_t x, int64_t pad, int64_t kernel, int64_t stride,
                                      int64_t outputs, int64_t* first, int64_t* last) {
  int64_t hi = x + pad, lo = hi - kernel + 1;  // p * stride must lie in [lo, hi]
  *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  *last = hi / stride < outputs - 1 ? hi / stride : outputs - 1;
}
__device__ inline Covering covering(int64_t i, const PoolShape& g) {
  Covering c;
  c.plane = i / (g.h * g.w);
  c.ih = i / g.w % g.h;
  c.iw = i % g.w;
  covering_range(c.ih, g.pad_h, g.kernel_h, g.stride_h, g.p, &c.p0, &c.p1);
  covering_range(c.iw, g.pad_w, g.kernel_w, g.stride_w, g.q, &c.q0, &c.q1);
  return c;
}

template <typename T>
__global__ void max_forward_kernel(const T* x, T* y, int* indices, PoolShape g) {
  int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= g.planes * g.p * g.q) return;
  int64_t pl = o / (g.p * g.q), p = o / g.q % g.p, q = o % g.q;
  const T* in = x + pl * g.h * g.w;
  int64_t h0 = p * g.stride_h - g.pad_h, w0 = q * g.stride_w - g.pad_w;
  int where = -1;
  float best = 0.0f;
  for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + g.kernel_h && ih < g.h; ++ih)
    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + g.kernel_w && iw < g.w; ++iw) {
      float v = widen(in[ih * g.w + iw]);
      if (where < 0 || v > best || v != v) {  // the first maximum wins ties; NaN propagates
        best = v;
        where = int(ih * g.w + iw);
      }
    }
  y[o] = narrow<T>(best);  // exact: best is one of the inputs
  indices[o] = where;
}

template <typename T>
__global__ void max_backward_kernel(const T* dy, const int* indices, T* dx, PoolShape g) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= g.planes * g.h * g.w) return;
  Covering c = covering(i, g);
  float acc = 0.0f;
  for (int64_t p = c.p0; p <= c.p1; ++p)
    for (int64_t q = c.q0; q <= c.q1; ++q) {
      int64_t o = (c.plane * g.p + p) * g.q + q;
      if (indices[o] == int(c.ih * g.w + c.iw)) acc += widen(dy[o]);
    }
  dx[i] = narrow<T>(acc);
}

template <typename T>
__global__ void avg_forward_kernel(const T* x, T* y, PoolShape g) {
  int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= g.planes * g.p * g.q) return;
  int64_t pl = o / (g.p * g.q), p = o / g.q % g.p, q = o % g.q;
  const T* in = x + pl * g.h * g.w;
  int64_t h0 = p * g.stride_h - g.pad_h, w0 = q * g.stride_w - g.pad_w;
  float total = 0.0f;
  for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + g.kernel_h && ih < g.h; ++ih)
    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + g.kernel_w && iw < g.w; ++iw)
      total += widen(in[ih * g.w + iw]);
  y[o] = narrow<T>(total / float(g.kernel_h * g.kernel_w));  // padding counts in the divisor
}

template <typename T>
__global__ void avg_backward_kernel(const T* dy, T* dx, PoolShape g) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= g.planes * g.h * g.w) return;
  Covering c = covering(i, g);
  float acc = 0.0f;
  for (int64_t p = c.p0; p <= c.p1; ++p)
    for (int64_t q = c.q0; q <= c.q1; ++q) acc += widen(dy[(c.plane * g.p + p) * g.q + q]);
  dx[i] = narrow<T>(acc / float(g.kernel_h * g.kernel_w));
}

template <typename T>
void max_forward(const T* x, T* y, int* indices, const PoolShape& g) {
  NNLAB_LAUNCH(max_forward_kernel<T>, blocks_for(g.planes * g.p * g.q, kThreads), dim3(kThreads), 0, x, y,
               indices, g);
}
template <typename T>
void max_backward(const T* dy, const int* indices, T* dx, const PoolShape& g) {
  NNLAB_LAUNCH(max_backward_kernel<T>, blocks_for(g.planes * g.h * g.w, kThreads), dim3(kThreads), 0, dy,
               indices, dx, g);
}
template <typename T>
void avg_forward(const T* x, T* y, const PoolShape& g) {
  NNLAB_LAUNCH(avg_forward_kernel<T>, blocks_for(g.planes * g.p * g.q, kThreads), dim3(kThreads), 0, x, y, g);
}
template <typename T>
void avg_backward(const T* dy, T* dx, const PoolShape& g) {
  NNLAB_LAUNCH(avg_backward_kernel<T>, blocks_for(g.planes * g.h * g.w, kThreads), dim3(kThreads), 0, dy, dx,
               g);
}
}  // namespace

void max_pool2d_forward(const float* x, float* y, int* indices, const PoolShape& g) {
  max_forward(x, y, indices, g);
}
void max_pool2d_backward(const float* dy, const int* indices, float* dx, const PoolShape& g) {
  max_backward(dy, indices, dx, g);
}
void avg_pool2d_forward(const float* x, float* y, const PoolShape& g) {
  avg_forward(x, y, g);
}
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& g) {
  avg_backward(dy, dx, g);
}

void max_pool2d_forward_16(Float16Kind kind, const uint16_t* x, uint16_t* y, int* indices, const PoolShape& g) {
  with_storage(kind, [&](auto type) { max_forward(as<decltype(type)>(x), as<decltype(type)>(y), indices, g); });
}
void max_pool2d_backward_16(Float16Kind kind, const uint16_t* dy, const int* indices, uint16_t* dx,
                            const PoolShape& g) {
  with_storage(kind, [&](auto type) { max_backward(as<decltype(type)>(dy), indices, as<decltype(type)>(dx), g); });
}
void avg_pool2d_forward_16(Float16Kind kind, const uint16_t* x, uint16_t* y, const PoolShape& g) {
  with_storage(kind, [&](auto type) { avg_forward(as<decltype(type)>(x), as<decltype(type)>(y), g); });
}
void avg_pool2d_backward_16(Float16Kind kind, const uint16_t* dy, uint16_t* dx, const PoolShape& g) {
  with_storage(kind, [&](auto type) { avg_backward(as<decltype(type)>(dy), as<decltype(type)>(dx), g); });
}

}  // namespace nnlab::NNLAB_KERNELS
