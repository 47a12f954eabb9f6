// Max and average pooling, one thread per output for the forward passes. The backward passes
// gather (one thread per input pixel, summing over the outputs whose window covers it) rather
// than scatter with atomics, so overlapping windows give the same sum every run.
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

__global__ void max_forward_kernel(const float* x, float* y, int* indices, PoolShape g) {
  int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= g.planes * g.p * g.q) return;
  int64_t pl = o / (g.p * g.q), p = o / g.q % g.p, q = o % g.q;
  const float* in = x + pl * g.h * g.w;
  int64_t h0 = p * g.stride_h - g.pad_h, w0 = q * g.stride_w - g.pad_w;
  int where = -1;
  float best = 0.0f;
  for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + g.kernel_h && ih < g.h; ++ih)
    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + g.kernel_w && iw < g.w; ++iw) {
      float v = in[ih * g.w + iw];
      if (where < 0 || v > best || v != v) {  // the first maximum wins ties; NaN propagates
        best = v;
        where = int(ih * g.w + iw);
      }
    }
  y[o] = best;
  indices[o] = where;
}

__global__ void max_backward_kernel(const float* dy, const int* indices, float* dx, PoolShape g) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= g.planes * g.h * g.w) return;
  Covering c = covering(i, g);
  float acc = 0.0f;
  for (int64_t p = c.p0; p <= c.p1; ++p)
    for (int64_t q = c.q0; q <= c.q1; ++q) {
      int64_t o = (c.plane * g.p + p) * g.q + q;
      if (indices[o] == int(c.ih * g.w + c.iw)) acc += dy[o];
    }
  dx[i] = acc;
}

__global__ void avg_forward_kernel(const float* x, float* y, PoolShape g) {
  int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= g.planes * g.p * g.q) return;
  int64_t pl = o / (g.p * g.q), p = o / g.q % g.p, q = o % g.q;
  const float* in = x + pl * g.h * g.w;
  int64_t h0 = p * g.stride_h - g.pad_h, w0 = q * g.stride_w - g.pad_w;
  float total = 0.0f;
  for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + g.kernel_h && ih < g.h; ++ih)
    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + g.kernel_w && iw < g.w; ++iw)
      total += in[ih * g.w + iw];
  y[o] = total / float(g.kernel_h * g.kernel_w);  // padding counts in the divisor
}

__global__ void avg_backward_kernel(const float* dy, float* dx, PoolShape g) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= g.planes * g.h * g.w) return;
  Covering c = covering(i, g);
  float acc = 0.0f;
  for (int64_t p = c.p0; p <= c.p1; ++p)
    for (int64_t q = c.q0; q <= c.q1; ++q) acc += dy[(c.plane * g.p + p) * g.q + q];
  dx[i] = acc / float(g.kernel_h * g.kernel_w);
}
}  // namespace

void max_pool2d_forward(const float* x, float* y, int* indices, const PoolShape& g) {
  NNLAB_LAUNCH(max_forward_kernel, blocks_for(g.planes * g.p * g.q, kThreads), dim3(kThreads), 0, x,
               y, indices, g);
}
void max_pool2d_backward(const float* dy, const int* indices, float* dx, const PoolShape& g) {
  NNLAB_LAUNCH(max_backward_kernel, blocks_for(g.planes * g.h * g.w, kThreads), dim3(kThreads), 0,
               dy, indices, dx, g);
}
void avg_pool2d_forward(const float* x, float* y, const PoolShape& g) {
  NNLAB_LAUNCH(avg_forward_kernel, blocks_for(g.planes * g.p * g.q, kThreads), dim3(kThreads), 0, x,
               y, g);
}
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& g) {
  NNLAB_LAUNCH(avg_backward_kernel, blocks_for(g.planes * g.h * g.w, kThreads), dim3(kThreads), 0,
               dy, dx, g);
}

}  // namespace nnlab::NNLAB_KERNELS
