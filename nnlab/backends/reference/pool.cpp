// Reference max and average pooling over NCHW planes.
#include <cmath>
#include <limits>
#include <vector>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"

namespace nnlab::reference {
namespace {
// Calls f(plane, out_index, ih, iw) for every output of every (n, c) plane and every window
// position, including positions in the padding (the caller decides what they mean).
template <typename F>
void for_each_window(const Tensor& x, const Tensor& y, const Window2d& win, F f) {
  int64_t planes = x.dim(0) * x.dim(1), P = y.dim(2), Q = y.dim(3);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q)
        for (int64_t r = 0; r < win.kernel_h; ++r)
          for (int64_t s = 0; s < win.kernel_w; ++s)
            f(pl, (pl * P + p) * Q + q, p * win.stride_h - win.pad_h + r,
              q * win.stride_w - win.pad_w + s);
}
}  // namespace

void ReferenceBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,
                                          const Window2d& win) {
  int64_t H = x.dim(2), W = x.dim(3);
  host::dispatch_all_floats(x.dtype(), "max_pool2d_forward", [&](auto zero) {
    using T = decltype(zero);
    std::vector<double> best(static_cast<size_t>(y.numel()),
                             -std::numeric_limits<double>::infinity());
    std::vector<int32_t> where(static_cast<size_t>(y.numel()), -1);
    for_each_window(x, y, win, [&](int64_t pl, int64_t o, int64_t ih, int64_t iw) {
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) return;  // padding never wins
      double v = x.data<T>()[(pl * H + ih) * W + iw];
      // The first maximum wins ties; NaN wins, so that it propagates as in PyTorch.
      if (where[size_t(o)] < 0 || v > best[size_t(o)] || std::isnan(v)) {
        best[size_t(o)] = v;
        where[size_t(o)] = int32_t(ih * W + iw);
      }
    });
    for (int64_t o = 0; o < y.numel(); ++o) {
      y.data<T>()[o] = T(best[size_t(o)]);
      indices.data<int32_t>()[o] = where[size_t(o)];
    }
  });
}

void ReferenceBackend::max_pool2d_backward(const Tensor& dy, const Tensor& indices,
                                           const Tensor& dx,
                                           const Window2d&) {
  int64_t plane_in = dx.dim(2) * dx.dim(3), plane_out = dy.dim(2) * dy.dim(3);
  host::dispatch_all_floats(dy.dtype(), "max_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    std::vector<double> acc(static_cast<size_t>(dx.numel()), 0.0);
    for (int64_t o = 0; o < dy.numel(); ++o)
      acc[size_t(o / plane_out * plane_in + indices.data<int32_t>()[o])] += dy.data<T>()[o];
    for (int64_t i = 0; i < dx.numel(); ++i) dx.data<T>()[i] = T(acc[size_t(i)]);
  });
}

void ReferenceBackend::avg_pool2d_forward(const Tensor& x, const Tensor& y, const Window2d& win) {
  int64_t H = x.dim(2), W = x.dim(3);
  double divisor = double(win.kernel_h * win.kernel_w);
  host::dispatch_all_floats(x.dtype(), "avg_pool2d_forward", [&](auto zero) {
    using T = decltype(zero);
    std::vector<double> acc(static_cast<size_t>(y.numel()), 0.0);
    for_each_window(x, y, win, [&](int64_t pl, int64_t o, int64_t ih, int64_t iw) {
      if (ih >= 0 && ih < H && iw >= 0 && iw < W)
        acc[size_t(o)] += x.data<T>()[(pl * H + ih) * W + iw];
    });
    for (int64_t o = 0; o < y.numel(); ++o) y.data<T>()[o] = T(acc[size_t(o)] / divisor);
  });
}

void ReferenceBackend::avg_pool2d_backward(const Tensor& dy, const Tensor& dx,
                                           const Window2d& win) {
  int64_t H = dx.dim(2), W = dx.dim(3);
  double divisor = double(win.kernel_h * win.kernel_w);
  host::dispatch_all_floats(dy.dtype(), "avg_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    std::vector<double> acc(static_cast<size_t>(dx.numel()), 0.0);
    for_each_window(dx, dy, win, [&](int64_t pl, int64_t o, int64_t ih, int64_t iw) {
      if (ih >= 0 && ih < H && iw >= 0 && iw < W)
        acc[size_t((pl * H + ih) * W + iw)] += dy.data<T>()[o] / divisor;
    });
    for (int64_t i = 0; i < dx.numel(); ++i) dx.data<T>()[i] = T(acc[size_t(i)]);
  });
}

}  // namespace nnlab::reference
