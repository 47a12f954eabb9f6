// Convolution as im2col + GEMM, the GPU twin of nnlab/backends/cpu/conv.cpp (as darknet's
// im2col_kernels.cu mirrors im2col.c): one thread per element of an image's unrolled
// [c*r*s, p*q] matrix, then the tiled GEMM with the [k, c*r*s] weights. The backward passes
// avoid float atomics: col2im gathers, one thread per input pixel summing the unrolled
// entries that read it, and the filter gradient accumulates image after image (beta = 1) in
// a fixed order, so results are the same run to run.
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"

namespace nnlab::NNLAB_KERNELS {

namespace {
constexpr int kThreads = 256;

// T is the storage type: float, or __half / __nv_bfloat16 for mixed precision (a copy: exact).
template <typename T>
__global__ void im2col_kernel(const T* image, ConvShape g, T* col) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, cols = g.p * g.q;
  if (i >= g.c * g.r * g.s * cols) return;
  int64_t row = i / cols, j = i % cols;
  int64_t c = row / (g.r * g.s), r = row / g.s % g.r, s = row % g.s, p = j / g.q, q = j % g.q;
  int64_t ih = p * g.stride_h - g.pad_h + r * g.dilation_h,
          iw = q * g.stride_w - g.pad_w + s * g.dilation_w;
  col[i] = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? image[(c * g.h + ih) * g.w + iw] : T{};
}

// dx[c, ih, iw] = sum of col[(c, r, s), (p, q)] over the taps that read (ih, iw), in float32
// and rounded once to the storage type T.
template <typename T>
__global__ void col2im_kernel(const T* col, ConvShape g, T* image) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= g.c * g.h * g.w) return;
  int64_t c = i / (g.h * g.w), ih = i / g.w % g.h, iw = i % g.w, cols = g.p * g.q;
  float acc = 0.0f;
  for (int64_t r = 0; r < g.r; ++r) {
    int64_t top = ih + g.pad_h - r * g.dilation_h;  // = p * stride_h for the output row p
    if (top < 0 || top % g.stride_h != 0 || top / g.stride_h >= g.p) continue;
    for (int64_t s = 0; s < g.s; ++s) {
      int64_t left = iw + g.pad_w - s * g.dilation_w;
      if (left < 0 || left % g.stride_w != 0 || left / g.stride_w >= g.q) continue;
      acc += widen(col[((c * g.r + r) * g.s + s) * cols + (top / g.stride_h) * g.q + left / g.stride_w]);
    }
  }
  image[i] = narrow<T>(acc);
}

// y[kk, j] = bias[kk] over one image's [k, plane] output, before a GEMM adds into it (beta 1):
// the 16-bit convolution's bias then costs no second rounding.
template <typename T>
__global__ void channel_fill_kernel(T* y, const T* bias, int64_t k, int64_t plane) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < k * plane) y[i] = bias[i / plane];
}

__global__ void channel_bias_kernel(float* y, const float* bias, int64_t k, int64_t plane) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < k * plane) y[i] += bias[i / plane];
}

// One thread per channel walks the batch and the plane in a fixed order (16-bit T: summed in
// float32, rounded once).
template <typename T>
__global__ void channel_sum_kernel(const T* x, int64_t n, int64_t c, int64_t plane, T* out) {
  int64_t ch = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < plane; ++j) acc += widen(x[(i * c + ch) * plane + j]);
  out[ch] = narrow<T>(acc);
}
template <typename T>
void launch_channel_sum(const T* x, int64_t n, int64_t c, int64_t plane, T* out) {
  if (c > 0) NNLAB_LAUNCH(channel_sum_kernel<T>, blocks_for(c, kThreads), dim3(kThreads), 0, x, n, c, plane, out);
}
}  // namespace

void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& g,
                    float* col) {
  int64_t rows = g.c * g.r * g.s, cols = g.p * g.q;
  for (int64_t i = 0; i < g.n; ++i) {
    NNLAB_LAUNCH(im2col_kernel<float>, blocks_for(rows * cols, kThreads), dim3(kThreads), 0,
                 x + i * g.c * g.h * g.w, g, col);
    float* out = y + i * g.k * cols;
    gemm(false, false, g.k, cols, rows, 1.0f, w, col, 0.0f, out);
    if (bias)
      NNLAB_LAUNCH(channel_bias_kernel, blocks_for(g.k * cols, kThreads), dim3(kThreads), 0, out,
                   bias, g.k, cols);
  }
}

void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& g,
                          float* col) {
  int64_t rows = g.c * g.r * g.s, cols = g.p * g.q;
  for (int64_t i = 0; i < g.n; ++i) {
    gemm(true, false, rows, cols, g.k, 1.0f, w, dy + i * g.k * cols, 0.0f, col);
    NNLAB_LAUNCH(col2im_kernel<float>, blocks_for(g.c * g.h * g.w, kThreads), dim3(kThreads), 0, col, g,
                 dx + i * g.c * g.h * g.w);
  }
}

void conv2d_backward_filter(const float* dy, const float* x, float* dw, const ConvShape& g,
                            float* col) {
  int64_t rows = g.c * g.r * g.s, cols = g.p * g.q;
  for (int64_t i = 0; i < g.n; ++i) {
    NNLAB_LAUNCH(im2col_kernel<float>, blocks_for(rows * cols, kThreads), dim3(kThreads), 0,
                 x + i * g.c * g.h * g.w, g, col);
    gemm(false, true, g.k, rows, cols, 1.0f, dy + i * g.k * cols, col, i == 0 ? 0.0f : 1.0f, dw);
  }
}

namespace {
// The 16-bit convolutions, T = __half or __nv_bfloat16 (conv2d_*_16 below pick it).
template <typename T>
void forward_16(Float16Kind kind, const T* x, const T* w, const T* bias, T* y, const ConvShape& g, T* col) {
  int64_t rows = g.c * g.r * g.s, cols = g.p * g.q;
  for (int64_t i = 0; i < g.n; ++i) {
    NNLAB_LAUNCH(im2col_kernel<T>, blocks_for(rows * cols, kThreads), dim3(kThreads), 0, x + i * g.c * g.h * g.w,
                 g, col);
    T* out = y + i * g.k * cols;
    if (bias)
      NNLAB_LAUNCH(channel_fill_kernel<T>, blocks_for(g.k * cols, kThreads), dim3(kThreads), 0, out, bias, g.k,
                   cols);
    gemm_16(kind, false, false, g.k, cols, rows, 1.0f, reinterpret_cast<const uint16_t*>(w),
            reinterpret_cast<const uint16_t*>(col), bias ? 1.0f : 0.0f, reinterpret_cast<uint16_t*>(out));
  }
}

template <typename T>
void backward_data_16(Float16Kind kind, const T* dy, const T* w, T* dx, const ConvShape& g, T* col) {
  int64_t rows = g.c * g.r * g.s, cols = g.p * g.q;
  for (int64_t i = 0; i < g.n; ++i) {
    gemm_16(kind, true, false, rows, cols, g.k, 1.0f, reinterpret_cast<const uint16_t*>(w),
            reinterpret_cast<const uint16_t*>(dy + i * g.k * cols), 0.0f, reinterpret_cast<uint16_t*>(col));
    NNLAB_LAUNCH(col2im_kernel<T>, blocks_for(g.c * g.h * g.w, kThreads), dim3(kThreads), 0, col, g,
                 dx + i * g.c * g.h * g.w);
  }
}

// Every image's product summed in float32 (gemm_16_float_c, beta 1 after the first), dw
// rounded once at the end.
template <typename T>
void backward_filter_16(Float16Kind kind, const T* dy, const T* x, T* dw, const ConvShape& g, T* col,
                        float* dw_sum) {
  int64_t rows = g.c * g.r * g.s, cols = g.p * g.q, size = g.k * rows;
  for (int64_t i = 0; i < g.n; ++i) {
    NNLAB_LAUNCH(im2col_kernel<T>, blocks_for(rows * cols, kThreads), dim3(kThreads), 0, x + i * g.c * g.h * g.w,
                 g, col);
    gemm_16_float_c(kind, false, true, g.k, rows, cols, 1.0f, reinterpret_cast<const uint16_t*>(dy + i * g.k * cols),
                    reinterpret_cast<const uint16_t*>(col), i == 0 ? 0.0f : 1.0f, dw_sum);
  }
  if (g.n == 0) fill(dw_sum, 0.0f, size);
  cast_to_16(dw_sum, reinterpret_cast<uint16_t*>(dw), size, kind);
}
}  // namespace

void conv2d_forward_16(Float16Kind kind, const uint16_t* x, const uint16_t* w, const uint16_t* bias, uint16_t* y,
                       const ConvShape& g, uint16_t* col) {
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    forward_16(kind, as<T>(x), as<T>(w), as<T>(bias), as<T>(y), g, as<T>(col));
  });
}

void conv2d_backward_data_16(Float16Kind kind, const uint16_t* dy, const uint16_t* w, uint16_t* dx,
                             const ConvShape& g, uint16_t* col) {
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    backward_data_16(kind, as<T>(dy), as<T>(w), as<T>(dx), g, as<T>(col));
  });
}

void conv2d_backward_filter_16(Float16Kind kind, const uint16_t* dy, const uint16_t* x, uint16_t* dw,
                               const ConvShape& g, uint16_t* col, float* dw_sum) {
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    backward_filter_16(kind, as<T>(dy), as<T>(x), as<T>(dw), g, as<T>(col), dw_sum);
  });
}

void channel_sum(const float* x, int64_t n, int64_t c, int64_t plane, float* out) {
  launch_channel_sum(x, n, c, plane, out);
}
void channel_sum_16(Float16Kind kind, const uint16_t* x, int64_t n, int64_t c, int64_t plane, uint16_t* out) {
  with_storage(kind, [&](auto type) { launch_channel_sum(as<decltype(type)>(x), n, c, plane, as<decltype(type)>(out)); });
}

}  // namespace nnlab::NNLAB_KERNELS
