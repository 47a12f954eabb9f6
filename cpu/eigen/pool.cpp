// Pooling, parallel over (n, c) planes; every plane is independent, so results do not
// depend on the thread count.
#include <limits>

#include "cpu/eigen/backend.h"
#include "cpu/eigen/common.h"

namespace nnlab::eigen {
namespace {
struct Planes {
  int64_t count, h, w, p, q;
};
Planes planes_of(const Tensor& in, const Tensor& out) {
  return {in.dim(0) * in.dim(1), in.dim(2), in.dim(3), out.dim(2), out.dim(3)};
}
// The window of output (p, q), clipped to the input: rows [h0, h1), columns [w0, w1).
struct Span {
  int64_t h0, h1, w0, w1;
};
Span clipped(const Window2d& win, const Planes& d, int64_t p, int64_t q) {
  int64_t h0 = p * win.stride_h - win.pad_h, w0 = q * win.stride_w - win.pad_w;
  return {std::max<int64_t>(h0, 0), std::min(h0 + win.kernel_h, d.h), std::max<int64_t>(w0, 0),
          std::min(w0 + win.kernel_w, d.w)};
}
}  // namespace

void CpuBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,
                                    const Window2d& win) {
  Planes d = planes_of(x, y);
  cpu::dispatch_float(x.dtype(), "max_pool2d_forward", [&](auto zero) {
    using T = decltype(zero);
    parallel_chunks(d.count, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) {
        const T* in = x.data<T>() + pl * d.h * d.w;
        for (int64_t p = 0; p < d.p; ++p)
          for (int64_t q = 0; q < d.q; ++q) {
            Span s = clipped(win, d, p, q);
            T best = -std::numeric_limits<T>::infinity();
            int32_t where = -1;
            for (int64_t ih = s.h0; ih < s.h1; ++ih)
              for (int64_t iw = s.w0; iw < s.w1; ++iw)
                if (where < 0 || in[ih * d.w + iw] > best) {  // the first maximum wins ties
                  best = in[ih * d.w + iw];
                  where = int32_t(ih * d.w + iw);
                }
            int64_t o = (pl * d.p + p) * d.q + q;
            y.data<T>()[o] = best;
            indices.data<int32_t>()[o] = where;
          }
      }
    });
  });
}

void CpuBackend::max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Tensor& dx) {
  Planes d = planes_of(dx, dy);
  cpu::dispatch_float(dy.dtype(), "max_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    parallel_chunks(d.count, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) {
        T* out = dx.data<T>() + pl * d.h * d.w;
        std::fill(out, out + d.h * d.w, T(0));
        for (int64_t o = pl * d.p * d.q; o < (pl + 1) * d.p * d.q; ++o)
          out[indices.data<int32_t>()[o]] += dy.data<T>()[o];
      }
    });
  });
}

void CpuBackend::avg_pool2d_forward(const Tensor& x, const Tensor& y, const Window2d& win) {
  Planes d = planes_of(x, y);
  cpu::dispatch_float(x.dtype(), "avg_pool2d_forward", [&](auto zero) {
    using T = decltype(zero);
    T scale = T(1.0 / double(win.kernel_h * win.kernel_w));  // padding counts in the divisor
    parallel_chunks(d.count, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) {
        const T* in = x.data<T>() + pl * d.h * d.w;
        for (int64_t p = 0; p < d.p; ++p)
          for (int64_t q = 0; q < d.q; ++q) {
            Span s = clipped(win, d, p, q);
            T total = 0;
            for (int64_t ih = s.h0; ih < s.h1; ++ih)
              for (int64_t iw = s.w0; iw < s.w1; ++iw) total += in[ih * d.w + iw];
            y.data<T>()[(pl * d.p + p) * d.q + q] = total * scale;
          }
      }
    });
  });
}

void CpuBackend::avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Window2d& win) {
  Planes d = planes_of(dx, dy);
  cpu::dispatch_float(dy.dtype(), "avg_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    T scale = T(1.0 / double(win.kernel_h * win.kernel_w));
    parallel_chunks(d.count, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) {
        T* out = dx.data<T>() + pl * d.h * d.w;
        std::fill(out, out + d.h * d.w, T(0));
        for (int64_t p = 0; p < d.p; ++p)
          for (int64_t q = 0; q < d.q; ++q) {
            Span s = clipped(win, d, p, q);
            T g = dy.data<T>()[(pl * d.p + p) * d.q + q] * scale;
            for (int64_t ih = s.h0; ih < s.h1; ++ih)
              for (int64_t iw = s.w0; iw < s.w1; ++iw) out[ih * d.w + iw] += g;
          }
      }
    });
  });
}

}  // namespace nnlab::eigen
