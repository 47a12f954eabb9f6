// Reference convolution: direct loops over every output and every window tap, accumulating
// in double. The backward ops scatter (data) or gather (filter) through the same index map.
#include <vector>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"

namespace nnlab::reference {
namespace {
struct ConvShape {
  int64_t n, c, h, w, k, r, s, p, q;
};
ConvShape shape_of(const Tensor& x, const Tensor& w, const Tensor& y) {
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), y.dim(2), y.dim(3)};
}

// Calls f(x_index, w_index, y_index) for every (output, tap) pair inside the input.
template <typename F>
void for_each_tap(const ConvShape& d, const Window2d& win, F f) {
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t k = 0; k < d.k; ++k)
      for (int64_t p = 0; p < d.p; ++p)
        for (int64_t q = 0; q < d.q; ++q)
          for (int64_t c = 0; c < d.c; ++c)
            for (int64_t r = 0; r < d.r; ++r)
              for (int64_t s = 0; s < d.s; ++s) {
                int64_t ih = p * win.stride_h - win.pad_h + r * win.dilation_h;
                int64_t iw = q * win.stride_w - win.pad_w + s * win.dilation_w;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                f(((n * d.c + c) * d.h + ih) * d.w + iw, ((k * d.c + c) * d.r + r) * d.s + s,
                  ((n * d.k + k) * d.p + p) * d.q + q);
              }
}
}  // namespace

void ReferenceBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                      const Tensor& y, const Window2d& win) {
  ConvShape d = shape_of(x, w, y);
  host::dispatch_all_floats(x.dtype(), "conv2d_forward", [&](auto zero) {
    using T = decltype(zero);
    const T *X = x.data<T>(), *W = w.data<T>();
    std::vector<double> acc(static_cast<size_t>(y.numel()), 0.0);
    for_each_tap(d, win, [&](int64_t xi, int64_t wi, int64_t yi) {
      acc[size_t(yi)] += double(X[xi]) * W[wi];
    });
    int64_t plane = d.p * d.q;
    for (int64_t i = 0; i < y.numel(); ++i)
      y.data<T>()[i] =
          T(acc[size_t(i)] + (bias.defined() ? double(bias.data<T>()[i / plane % d.k]) : 0.0));
  });
}

void ReferenceBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                            const Window2d& win) {
  ConvShape d = shape_of(dx, w, dy);
  host::dispatch_all_floats(dy.dtype(), "conv2d_backward_data", [&](auto zero) {
    using T = decltype(zero);
    const T *DY = dy.data<T>(), *W = w.data<T>();
    std::vector<double> acc(static_cast<size_t>(dx.numel()), 0.0);
    for_each_tap(d, win, [&](int64_t xi, int64_t wi, int64_t yi) {
      acc[size_t(xi)] += double(DY[yi]) * W[wi];
    });
    for (int64_t i = 0; i < dx.numel(); ++i) dx.data<T>()[i] = T(acc[size_t(i)]);
  });
}

void ReferenceBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                                              const Window2d& win) {
  ConvShape d = shape_of(x, dw, dy);
  host::dispatch_all_floats(dy.dtype(), "conv2d_backward_filter", [&](auto zero) {
    using T = decltype(zero);
    const T *DY = dy.data<T>(), *X = x.data<T>();
    std::vector<double> acc(static_cast<size_t>(dw.numel()), 0.0);
    for_each_tap(d, win, [&](int64_t xi, int64_t wi, int64_t yi) {
      acc[size_t(wi)] += double(DY[yi]) * X[xi];
    });
    for (int64_t i = 0; i < dw.numel(); ++i) dw.data<T>()[i] = T(acc[size_t(i)]);
  });
}

void ReferenceBackend::channel_sum(const Tensor& x, const Tensor& out) {
  int64_t n = x.dim(0), c = x.dim(1), plane = x.numel() / std::max<int64_t>(1, n * c);
  host::dispatch_all_floats(x.dtype(), "channel_sum", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t ch = 0; ch < c; ++ch) {
      double acc = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < plane; ++j) acc += x.data<T>()[(i * c + ch) * plane + j];
      out.data<T>()[ch] = T(acc);
    }
  });
}

}  // namespace nnlab::reference
