// Convolution as im2col + GEMM (as darknet and Caffe): each image's receptive fields are
// unrolled into a [c*r*s, p*q] matrix so that the convolution is one Eigen product with the
// [k, c*r*s] weights. Images run in parallel; the filter gradient sums per-chunk partials in
// a fixed order (chunks depend only on the batch size), so results do not depend on threads.
#include <vector>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"

namespace nnlab::cpu {
namespace {
struct Geometry {
  int64_t c, h, w, k, r, s, p, q;
  int64_t rows() const { return c * r * s; }  // of the unrolled matrix
  int64_t cols() const { return p * q; }
};

Geometry geometry(const Tensor& x, const Tensor& w, const Tensor& y) {
  return {x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), y.dim(2), y.dim(3)};
}

// Calls f(row, col, in, count, step) for every run of the unrolled matrix of one image: `count`
// columns starting at `col` of row `row` read the input at in, in + step, ... The rest of each
// row is padding. Runs are computed per (row, output row) instead of testing every element.
template <typename F>
void for_each_run(const Geometry& g, const Window2d& win, F f) {
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t r = 0; r < g.r; ++r)
      for (int64_t s = 0; s < g.s; ++s) {
        int64_t row = (c * g.r + r) * g.s + s, x_off = s * win.dilation_w - win.pad_w;
        // Valid output columns q: 0 <= q * stride + x_off < w.
        int64_t q0 = x_off >= 0 ? 0 : (-x_off + win.stride_w - 1) / win.stride_w;
        int64_t q1 = g.w - x_off <= 0 ? 0 : std::min(g.q, (g.w - x_off + win.stride_w - 1) / win.stride_w);
        for (int64_t p = 0; p < g.p; ++p) {
          int64_t ih = p * win.stride_h - win.pad_h + r * win.dilation_h;
          if (ih < 0 || ih >= g.h || q1 <= q0) continue;
          f(row, p * g.q + q0, (c * g.h + ih) * g.w + q0 * win.stride_w + x_off, q1 - q0, win.stride_w);
        }
      }
}

template <typename T>
void im2col(const T* image, const Geometry& g, const Window2d& win, T* col) {
  // Without padding every element is written by a run; with it, the rest stays zero.
  if (win.pad_h > 0 || win.pad_w > 0) std::fill(col, col + g.rows() * g.cols(), T(0));
  for_each_run(g, win, [&](int64_t row, int64_t j, int64_t in, int64_t count, int64_t step) {
    T* __restrict out = col + row * g.cols() + j;
    const T* __restrict src = image + in;
    // Runs are short (an output row): an inline loop, not a memmove call per run.
    if (step == 1) {
      for (int64_t i = 0; i < count; ++i) out[i] = src[i];
    } else {
      for (int64_t i = 0; i < count; ++i) out[i] = src[i * step];
    }
  });
}

template <typename T>
void col2im(const T* col, const Geometry& g, const Window2d& win, T* image) {
  std::fill(image, image + g.c * g.h * g.w, T(0));
  for_each_run(g, win, [&](int64_t row, int64_t j, int64_t in, int64_t count, int64_t step) {
    const T* src = col + row * g.cols() + j;
    T* out = image + in;
    for (int64_t i = 0; i < count; ++i) out[i * step] += src[i];
  });
}

template <typename T>
using Map = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMap = Eigen::Map<const RowMatrix<T>>;
}  // namespace

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                const Tensor& y, const Window2d& win) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::conv2d_forward, x, w, bias, y, win);
  Geometry g = geometry(x, w, y);
  host::dispatch_float(x.dtype(), "conv2d_forward", [&](auto zero) {
    using T = decltype(zero);
    ConstMap<T> W(w.data<T>(), g.k, g.rows());
    parallel_chunks(x.dim(0), 1, threads_, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(static_cast<size_t>(g.rows() * g.cols()));
      for (int64_t n = lo; n < hi; ++n) {
        im2col(x.data<T>() + n * g.c * g.h * g.w, g, win, col.data());
        Map<T> Y(y.data<T>() + n * g.k * g.cols(), g.k, g.cols());
        Y.noalias() = W * ConstMap<T>(col.data(), g.rows(), g.cols());
        if (bias.defined())
          Y.colwise() += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias.data<T>(), g.k);
      }
    });
  });
}

void CpuBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                      const Window2d& win) {
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dx}, &CpuBackend::conv2d_backward_data, dy, w, dx, win);
  Geometry g = geometry(dx, w, dy);
  host::dispatch_float(dy.dtype(), "conv2d_backward_data", [&](auto zero) {
    using T = decltype(zero);
    ConstMap<T> W(w.data<T>(), g.k, g.rows());
    parallel_chunks(dy.dim(0), 1, threads_, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(static_cast<size_t>(g.rows() * g.cols()));
      for (int64_t n = lo; n < hi; ++n) {
        Map<T>(col.data(), g.rows(), g.cols()).noalias() =
            W.transpose() * ConstMap<T>(dy.data<T>() + n * g.k * g.cols(), g.k, g.cols());
        col2im(col.data(), g, win, dx.data<T>() + n * g.c * g.h * g.w);
      }
    });
  });
}

void CpuBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                                        const Window2d& win) {
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dw}, &CpuBackend::conv2d_backward_filter, dy, x, dw, win);
  Geometry g = geometry(x, dw, dy);
  int64_t n = x.dim(0), per_chunk = (n + 7) / 8, chunks = (n + per_chunk - 1) / per_chunk;
  host::dispatch_float(dy.dtype(), "conv2d_backward_filter", [&](auto zero) {
    using T = decltype(zero);
    std::vector<RowMatrix<T>> partial(static_cast<size_t>(chunks));
    parallel_chunks(chunks, 1, threads_, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(static_cast<size_t>(g.rows() * g.cols()));
      for (int64_t chunk = lo; chunk < hi; ++chunk) {
        RowMatrix<T>& acc = partial[size_t(chunk)];
        acc = RowMatrix<T>::Zero(g.k, g.rows());
        for (int64_t i = chunk * per_chunk; i < std::min(n, (chunk + 1) * per_chunk); ++i) {
          im2col(x.data<T>() + i * g.c * g.h * g.w, g, win, col.data());
          acc.noalias() += ConstMap<T>(dy.data<T>() + i * g.k * g.cols(), g.k, g.cols()) *
                           ConstMap<T>(col.data(), g.rows(), g.cols()).transpose();
        }
      }
    });
    Map<T> DW(dw.data<T>(), g.k, g.rows());
    DW = partial[0];
    for (size_t i = 1; i < partial.size(); ++i) DW += partial[i];
  });
}

void CpuBackend::channel_sum(const Tensor& x, const Tensor& out) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::channel_sum, x, out);
  int64_t n = x.dim(0), c = x.dim(1), plane = x.numel() / std::max<int64_t>(1, n * c);
  host::dispatch_float(x.dtype(), "channel_sum", [&](auto zero) {
    using T = decltype(zero);
    parallel_chunks(c, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t ch = lo; ch < hi; ++ch) {
        double acc = 0;
        for (int64_t i = 0; i < n; ++i)
          acc += double(Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(
                            x.data<T>() + (i * c + ch) * plane, plane)
                            .sum());
        out.data<T>()[ch] = T(acc);
      }
    });
  });
}

}  // namespace nnlab::cpu
