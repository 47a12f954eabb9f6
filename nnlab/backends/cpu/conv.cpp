// Convolution on the packed GEMM (nnlab/backends/cpu/packed_gemm.h), the whole batch in one product:
//   forward      y = W [k, c*r*s] x im2col(x) [c*r*s, n*p*q], written into NCHW directly
//                (the columns of C are (image, pixel) pairs: cpu::gemm::ColumnGroups);
//   data grad    stride 1: the forward convolution of dy with the flipped, transposed weights
//                (no col2im); other strides, and few channels: dcol = W^T dy for a group of
//                images, then col2im;
//   filter grad  dW = dy [k, n*p*q] x im2col(x)^T [n*p*q, c*r*s].
// im2col is never materialised for the forward and filter products: the packing step reads the
// receptive fields straight from the image into the GEMM's panels (the "implicit im2col" of
// BLIS-based convolutions), so a late ResNet layer with 2x2 outputs still multiplies 32 images'
// worth of columns at once, and no [c*r*s, p*q] buffer per image is held.
//
// Determinism: the products split only rows and columns of C across threads (never the
// reduction); where the filter gradient is too small to share that way, its reduction is cut
// into chunks of images fixed by the shape, summed in order.
#include <algorithm>
#include <vector>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/conv_direct.h"
#include "nnlab/backends/cpu/float16.h"
#include "nnlab/backends/cpu/packed_gemm.h"
#include "nnlab/backends/cpu/winograd.h"

namespace nnlab::cpu {
namespace {
struct Geometry {
  int64_t c, h, w, k, r, s, p, q;
  Window2d win;
  int64_t patch() const { return c * r * s; }  // rows of im2col
  int64_t pixels() const { return p * q; }     // output pixels per image
  int64_t image() const { return c * h * w; }  // input elements per image
};

Geometry geometry(const Tensor& x, const Tensor& w, const Tensor& y, const Window2d& win) {
  return {x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), y.dim(2), y.dim(3), win};
}

// Output pixels [j0, j0 + count) of the batch (j = image * p*q + row * q + column), cut into
// runs along one output row: `count` pixels from position `first` of the range.
struct Run {
  int64_t first, count, image, row, column;
};
constexpr int64_t kMaxRunPixels = 256;  // the most pixels one pack call covers (KC or NR)
static_assert(gemm::Blocking<float>::kKC <= kMaxRunPixels && gemm::Blocking<double>::kKC <= kMaxRunPixels);

int split_runs(const Geometry& g, int64_t j0, int64_t count, Run* runs) {
  int n = 0;
  for (int64_t done = 0; done < count;) {
    const int64_t j = j0 + done, image = j / g.pixels(), in_image = j % g.pixels();
    const int64_t row = in_image / g.q, column = in_image % g.q;
    const int64_t len = std::min(count - done, g.q - column);
    runs[n++] = {done, len, image, row, column};
    done += len;
  }
  return n;
}

// Reads one im2col row (channel c, tap r, s) along a run: out[t * step] for t in [0, count),
// zero where the tap falls into padding.
template <typename T>
inline void read_run(const T* x, const Geometry& g, const Run& run, int64_t c, int64_t r, int64_t s,
                     T* __restrict out, int64_t step) {
  const Window2d& win = g.win;
  const int64_t ih = run.row * win.stride_h - win.pad_h + r * win.dilation_h;
  if (ih < 0 || ih >= g.h) {
    for (int64_t t = 0; t < run.count; ++t) out[t * step] = T(0);
    return;
  }
  const int64_t sw = win.stride_w, iw0 = run.column * sw - win.pad_w + s * win.dilation_w;
  // Taps t in [lo, hi) read columns iw0 + t * sw inside [0, w).
  const int64_t lo = iw0 >= 0 ? 0 : std::min(run.count, (-iw0 + sw - 1) / sw);
  const int64_t hi = g.w - iw0 <= 0 ? 0 : std::min(run.count, (g.w - iw0 + sw - 1) / sw);
  const T* __restrict src = x + ((run.image * g.c + c) * g.h + ih) * g.w + iw0;
  for (int64_t t = 0; t < lo; ++t) out[t * step] = T(0);
  if (sw == 1 && step == 1)
    for (int64_t t = lo; t < hi; ++t) out[t] = src[t];
  else
    for (int64_t t = lo; t < hi; ++t) out[t * step] = src[t * sw];
  for (int64_t t = std::max(lo, hi); t < run.count; ++t) out[t * step] = T(0);
}

// The right operand of the forward product, im2col(x) [c*r*s, n*p*q], packed from the images.
template <typename T>
struct PackIm2col {
  const T* x;
  Geometry g;
  void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t cols, T* __restrict dst) const {
    constexpr int NR = gemm::Blocking<T>::kNR;
    Run runs[NR + 1];
    const int n_runs = split_runs(g, j0, cols, runs);
    int64_t c = k0 / (g.r * g.s), r = k0 / g.s % g.r, s = k0 % g.s;
    for (int64_t kk = 0; kk < kc; ++kk) {
      T* out = dst + kk * NR;
      for (int i = 0; i < n_runs; ++i) read_run(x, g, runs[i], c, r, s, out + runs[i].first, 1);
      for (int64_t jj = cols; jj < NR; ++jj) out[jj] = T(0);
      if (++s == g.s) {
        s = 0;
        if (++r == g.r) r = 0, ++c;
      }
    }
  }
};

// The right operand of the filter gradient, im2col(x)^T [n*p*q, c*r*s]: rows are pixels.
template <typename T>
struct PackIm2colTransposed {
  const T* x;
  Geometry g;
  void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t cols, T* __restrict dst) const {
    constexpr int NR = gemm::Blocking<T>::kNR;
    Run runs[kMaxRunPixels + 1];
    const int n_runs = split_runs(g, k0, kc, runs);
    for (int64_t jj = 0; jj < NR; ++jj) {
      if (jj >= cols) {
        for (int64_t kk = 0; kk < kc; ++kk) dst[kk * NR + jj] = T(0);
        continue;
      }
      const int64_t patch = j0 + jj, c = patch / (g.r * g.s), r = patch / g.s % g.r, s = patch % g.s;
      for (int i = 0; i < n_runs; ++i) read_run(x, g, runs[i], c, r, s, dst + runs[i].first * NR + jj, NR);
    }
  }
};

// The columns (image, pixel) of an NCHW tensor with `channels` planes of g.pixels() as a matrix
// [channels, n * pixels].
gemm::ColumnGroups image_columns(int64_t pixels, int64_t channels) { return {pixels, channels * pixels}; }

// Winograd F(2x2, 3x3) where it applies and the channels fill its 16 products.
bool use_winograd(const Geometry& g) {
  const Window2d& win = g.win;
  return winograd::applies(g.r, g.s, win.stride_h, win.stride_w, win.dilation_h, win.dilation_w,
                           win.pad_h, win.pad_w) &&
         g.c >= 16 && g.k >= 16;
}

// Direct convolution (no packing) where a GEMM's product would have too few rows to amortise
// packing: at most 16 filters, stride 1, no dilation.
bool use_direct(const Geometry& g) {
  const Window2d& win = g.win;
  return direct::applies(win.stride_h, win.stride_w, win.dilation_h, win.dilation_w) && g.k <= 16;
}

template <typename T>
void forward(const T* x, const T* w, const T* bias, T* y, int64_t n, const Geometry& g, int threads) {
  if (use_winograd(g))
    return winograd::forward(x, w, bias, y, n, g.c, g.h, g.w, g.k, g.win.pad_h, g.win.pad_w,
                             winograd::WeightLayout::Direct, threads);
  if (use_direct(g))
    return direct::forward(x, w, bias, y, n, g.c, g.h, g.w, g.k, g.r, g.s, g.win.pad_h, g.win.pad_w,
                           direct::WeightLayout::Direct, threads);
  const gemm::PackStridedA<T> weights{{w, g.patch(), 1}};
  const gemm::Output<T> out{y, g.pixels(), image_columns(g.pixels(), g.k), bias};
  gemm::packed_gemm<T>(g.k, n * g.pixels(), g.patch(), T(1), weights, PackIm2col<T>{x, g}, T(0), out, threads);
}

// dx[image] = the columns of dcol [c*r*s, p*q] (rows `row_stride` apart) added back to where
// im2col read them.
template <typename T>
void col2im(const T* dcol, int64_t row_stride, const Geometry& g, T* dx) {
  std::fill(dx, dx + g.image(), T(0));
  const Window2d& win = g.win;
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t r = 0; r < g.r; ++r)
      for (int64_t s = 0; s < g.s; ++s) {
        const T* row = dcol + ((c * g.r + r) * g.s + s) * row_stride;
        for (int64_t p = 0; p < g.p; ++p) {
          const int64_t ih = p * win.stride_h - win.pad_h + r * win.dilation_h;
          if (ih < 0 || ih >= g.h) continue;
          T* out = dx + (c * g.h + ih) * g.w;
          for (int64_t q = 0; q < g.q; ++q) {
            const int64_t iw = q * win.stride_w - win.pad_w + s * win.dilation_w;
            if (iw >= 0 && iw < g.w) out[iw] += row[p * g.q + q];
          }
        }
      }
}
}  // namespace

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                const Tensor& y, const Window2d& win) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::conv2d_forward, x, w, bias, y, win);
  Geometry g = geometry(x, w, y, win);
  host::dispatch_float(x.dtype(), "conv2d_forward", [&](auto zero) {
    using T = decltype(zero);
    forward<T>(x.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr, y.data<T>(),
               x.dim(0), g, threads_);
  });
}

void CpuBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                      const Window2d& win) {
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dx}, &CpuBackend::conv2d_backward_data, dy, w, dx, win);
  Geometry g = geometry(dx, w, dy, win);
  const int64_t n = dy.dim(0);
  host::dispatch_float(dy.dtype(), "conv2d_backward_data", [&](auto zero) {
    using T = decltype(zero);
    const int64_t pad_h = win.dilation_h * (g.r - 1) - win.pad_h, pad_w = win.dilation_w * (g.s - 1) - win.pad_w;
    // Stride 1: dx = dy convolved with W'[c, k, r, s] = W[k, c, R-1-r, S-1-s], padded by
    // d(R-1) - pad: each dx pixel gathers the dy pixels whose windows covered it. Winograd and
    // the direct kernels read W turned and transposed; the packed GEMM needs a flipped copy and
    // enough dx channels to fill its micro-tiles (LeNet's 6, with 5x5 windows two-thirds
    // padding, ran 4.7 ms per CPU that way against 1.3 scattering).
    Window2d t = win;
    t.pad_h = pad_h;
    t.pad_w = pad_w;
    Geometry tg{g.k, g.p, g.q, g.c, g.r, g.s, g.h, g.w, t};
    const bool gathering = win.stride_h == 1 && win.stride_w == 1 && pad_h >= 0 && pad_w >= 0;
    if (gathering && use_winograd(tg))
      return winograd::forward(dy.data<T>(), w.data<T>(), static_cast<const T*>(nullptr), dx.data<T>(), n,
                               g.k, g.p, g.q, g.c, pad_h, pad_w, winograd::WeightLayout::Transposed, threads_);
    if (gathering && use_direct(tg))
      return direct::forward(dy.data<T>(), w.data<T>(), static_cast<const T*>(nullptr), dx.data<T>(), n,
                             g.k, g.p, g.q, g.c, g.r, g.s, pad_h, pad_w, direct::WeightLayout::Transposed,
                             threads_);
    if (gathering && g.c >= 16) {
      std::vector<T> flipped(size_t(g.k * g.patch()));
      const T* W = w.data<T>();
      for (int64_t k = 0; k < g.k; ++k)
        for (int64_t c = 0; c < g.c; ++c)
          for (int64_t r = 0; r < g.r; ++r)
            for (int64_t s = 0; s < g.s; ++s)
              flipped[size_t(((c * g.k + k) * g.r + r) * g.s + s)] =
                  W[((k * g.c + c) * g.r + (g.r - 1 - r)) * g.s + (g.s - 1 - s)];
      forward<T>(dy.data<T>(), flipped.data(), nullptr, dx.data<T>(), n, tg, threads_);
      return;
    }
    // Strided: dcol = W^T dy for a group of images (about 2048 columns), then col2im per image.
    const int64_t group = std::clamp<int64_t>(2048 / g.pixels(), 1, n);
    std::vector<T> dcol(size_t(g.patch() * group * g.pixels()));
    gemm::Strided<T> weights_t{w.data<T>(), 1, g.patch()};
    for (int64_t n0 = 0; n0 < n; n0 += group) {
      const int64_t images = std::min(group, n - n0);
      gemm::Grouped<T> grad{dy.data<T>() + n0 * g.k * g.pixels(), g.pixels(), image_columns(g.pixels(), g.k)};
      gemm::packed_gemm<T>(g.patch(), images * g.pixels(), g.k, T(1), gemm::PackStridedA<T>{weights_t},
                           gemm::PackGroupedB<T>{grad}, T(0), gemm::Output<T>{dcol.data(), images * g.pixels()},
                           threads_);
      parallel_chunks(images, 1, threads_, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          col2im(dcol.data() + i * g.pixels(), images * g.pixels(), g, dx.data<T>() + (n0 + i) * g.image());
      });
    }
  });
}

void CpuBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                                        const Window2d& win) {
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dw}, &CpuBackend::conv2d_backward_filter, dy, x, dw, win);
  Geometry g = geometry(x, dw, dy, win);
  const int64_t n = x.dim(0);
  host::dispatch_float(dy.dtype(), "conv2d_backward_filter", [&](auto zero) {
    using T = decltype(zero);
    using Blk = gemm::Blocking<T>;
    if (use_winograd(g))
      return winograd::backward_filter(dy.data<T>(), x.data<T>(), dw.data<T>(), n, g.c, g.h, g.w, g.k,
                                       win.pad_h, win.pad_w, threads_);
    if (use_direct(g))
      return direct::backward_filter(dy.data<T>(), x.data<T>(), dw.data<T>(), n, g.c, g.h, g.w, g.k,
                                     g.r, g.s, win.pad_h, win.pad_w, threads_);
    auto product = [&](int64_t n0, int64_t images, T* out, int threads) {
      gemm::Grouped<T> grad{dy.data<T>() + n0 * g.k * g.pixels(), g.pixels(), image_columns(g.pixels(), g.k)};
      gemm::packed_gemm<T>(g.k, g.patch(), images * g.pixels(), T(1), gemm::PackGroupedA<T>{grad},
                           PackIm2colTransposed<T>{x.data<T>() + n0 * g.image(), g}, T(0),
                           gemm::Output<T>{out, g.patch()}, threads);
    };
    // The reduction over the batch's pixels is cut into up to 8 chunks of images (fixed by the
    // shape), each a product on one thread, summed in order, where sharing rows and columns of
    // dW among threads serves badly: a gradient of few tiles (LeNet's 6 x 75) leaves threads
    // idle, and a long reduction into a small dW (the stem's 64 x 147 over 32 x 32 x 32 pixels
    // at 64x64) had every rectangle of dW pack the whole im2col^T, its costliest part, again.
    const int64_t tiles = (g.k + Blk::kMR - 1) / Blk::kMR * ((g.patch() + Blk::kNR - 1) / Blk::kNR);
    const int64_t reduction = n * g.pixels();
    const bool chunked = tiles < 16 || reduction >= 4 * (g.k + g.patch());
    const int64_t chunks = chunked ? std::min<int64_t>(n, 8) : 1;
    if (chunks == 1) {
      product(0, n, dw.data<T>(), threads_);
      return;
    }
    const int64_t size = g.k * g.patch();
    std::vector<T> partial(size_t(chunks * size));
    parallel_chunks(chunks, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t chunk = lo; chunk < hi; ++chunk) {
        const int64_t first = n * chunk / chunks, last = n * (chunk + 1) / chunks;
        product(first, last - first, partial.data() + chunk * size, 1);
      }
    });
    T* out = dw.data<T>();
    std::copy_n(partial.data(), size, out);
    for (int64_t chunk = 1; chunk < chunks; ++chunk)
      for (int64_t i = 0; i < size; ++i) out[i] += partial[size_t(chunk * size + i)];
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
