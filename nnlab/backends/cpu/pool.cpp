// Pooling, parallel over (n, c) planes; every plane is independent, so results do not
// depend on the thread count.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"
#include "nnlab/backends/cpu/simd.h"

namespace nnlab::cpu {
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

// Max pooling one output row at a time with the output column innermost: for each window tap,
// a whole row of running maxima is updated by selects, which vectorise; comparing per window
// instead is a branch the random data makes unpredictable (measured 20x slower without
// padding, 7x on ResNet's padded stem pool). Taps go in (r, s) order and a later value wins
// only if larger or NaN, so the first maximum wins ties and NaN propagates (PyTorch's rule).

// One tap over output columns [q_lo, q_hi): `base` is the input index output column 0 reads.
template <typename T>
inline void take_larger(const T* in, int64_t base, int64_t stride, int64_t q_lo, int64_t q_hi,
                        T* best, int32_t* at) {
  for (int64_t q = q_lo; q < q_hi; ++q) {
    T v = in[base + q * stride];  // base may be negative (padding): never form in + base
    bool take = (v > best[q]) | (v != v);
    best[q] = take ? v : best[q];
    at[q] = take ? int32_t(base + q * stride) : at[q];
  }
}

// Without padding every window lies inside the plane: tap (0, 0) starts the maxima, with no
// -inf pass and no clipping (LeNet's pool through padded_max_rows took 1.5x as long).
// The row functions stay out of line: inlined into the parallel loop's lambda, GCC compiled
// them into slower loops (bench_ops, interleaved runs: LeNet's pool took about 1.5x as long).
template <typename T>
NNLAB_NOINLINE void unpadded_max_rows(const T* in, const Planes& d, const Window2d& win, T* out,
                                      int32_t* where) {
  for (int64_t p = 0; p < d.p; ++p) {
    T* best = out + p * d.q;
    int32_t* at = where + p * d.q;
    for (int64_t r = 0; r < win.kernel_h; ++r)
      for (int64_t s = 0; s < win.kernel_w; ++s) {
        int64_t base = (p * win.stride_h + r) * d.w + s;
        if (r == 0 && s == 0) {
          for (int64_t q = 0; q < d.q; ++q) {
            best[q] = in[base + q * win.stride_w];
            at[q] = int32_t(base + q * win.stride_w);
          }
          continue;
        }
        take_larger(in, base, win.stride_w, 0, d.q, best, at);
      }
  }
}

// 2x2 windows at stride 2 without padding (LeNet's pools), float: a vector of W outputs at a
// time. A row's even and odd inputs are split into two vectors, the window's left and right
// taps, and the four taps are compared in registers in (r, s) order by take_larger's rule; each
// lane carries its winner's index as a float, exact below 2^24 (the caller checks the plane).
// LeNet's rows of 14 and 5 outputs are shorter than a loop GCC vectorises, and a fixed block
// of 16 outputs through copies (the code before this one) cost more than the comparisons:
// bench_ops, 1 thread, CPU time, [64, 6, 28, 28]: 266 -> 51 us on the x86-64-v3 build, 180 ->
// 38 us native (AVX-512); LeNet epoch, x86-64-v3 build, 2 threads: 2.29 -> 2.01-2.13 s.
NNLAB_NOINLINE void max_2x2_rows(const float* in, const Planes& d, float* out, int32_t* where) {
  using S = simd::Vec<float>;
  using V = S::V;
  constexpr int W = S::kWidth;
  const float* plane_end = in + d.h * d.w;
  const int64_t outputs = d.p * d.q;
  const V even_lanes = S::add(S::lanes(), S::lanes());  // 0, 2, 4, ...: the top-left taps
  const V one = S::broadcast(1.f), row = S::broadcast(float(d.w));
  alignas(64) float top_copy[2 * W], bottom_copy[2 * W];
  for (int64_t p = 0; p < d.p; ++p)
    for (int64_t q0 = 0; q0 < d.q; q0 += W) {
      const float* top = in + 2 * p * d.w + 2 * q0;
      const float* bottom = top + d.w;
      if (plane_end - bottom < 2 * W) {  // near the plane's end: read what is there, zeros after
        const int64_t top_count = std::min<int64_t>(2 * W, plane_end - top), bottom_count = plane_end - bottom;
        std::fill(std::copy_n(top, top_count, top_copy), top_copy + 2 * W, 0.f);
        std::fill(std::copy_n(bottom, bottom_count, bottom_copy), bottom_copy + 2 * W, 0.f);
        top = top_copy, bottom = bottom_copy;
      }
      V top_left, top_right, bottom_left, bottom_right;
      S::load_pairs(top, top_left, top_right);
      S::load_pairs(bottom, bottom_left, bottom_right);
      V best = top_left, at = S::add(S::broadcast(float(2 * p * d.w + 2 * q0)), even_lanes);
      const V first = at;
      auto take = [&](V value, V index) {
        const S::Mask larger = S::larger_or_nan(value, best);
        best = S::select(larger, value, best);
        at = S::select(larger, index, at);
      };
      take(top_right, S::add(first, one));
      take(bottom_left, S::add(first, row));
      take(bottom_right, S::add(S::add(first, row), one));
      // Lanes past the row's end land on the next rows' outputs, which are written again in
      // their turn; only past the plane's end (another thread's plane) are they left out.
      const int64_t o = p * d.q + q0;
      if (o + W <= outputs) {
        S::store(out + o, best);
        S::store_int32(where + o, at);
      } else {
        S::store_first(out + o, best, int(outputs - o));
        S::store_first_int32(where + o, at, int(outputs - o));
      }
    }
}

// With padding each tap is clipped to the rows, and the run of output columns, for which it
// lands inside the plane. Maxima start at -inf with the index of the window's first element
// inside the plane (PyTorch's start, which an all -inf window keeps).
template <typename T>
NNLAB_NOINLINE void padded_max_rows(const T* in, const Planes& d, const Window2d& win, T* out,
                                    int32_t* where) {
  for (int64_t p = 0; p < d.p; ++p) {
    T* best = out + p * d.q;
    int32_t* at = where + p * d.q;
    Span rows = clipped(win, d, p, 0);
    for (int64_t q = 0; q < d.q; ++q) {
      best[q] = -std::numeric_limits<T>::infinity();
      at[q] = int32_t(rows.h0 * d.w + std::max<int64_t>(q * win.stride_w - win.pad_w, 0));
    }
    for (int64_t ih = rows.h0; ih < rows.h1; ++ih)
      for (int64_t s = 0; s < win.kernel_w; ++s) {
        // Output column q reads input column q * stride_w + s - pad_w, inside [0, w) for q in:
        int64_t first = win.pad_w - s, last = d.w - 1 + first;
        int64_t q_lo = first <= 0 ? 0 : (first + win.stride_w - 1) / win.stride_w;
        int64_t q_hi = last < 0 ? 0 : std::min(d.q, last / win.stride_w + 1);
        take_larger(in, ih * d.w + s - win.pad_w, win.stride_w, q_lo, q_hi, best, at);
      }
  }
}
}  // namespace

void CpuBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,
                                    const Window2d& win) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::max_pool2d_forward, x, y, indices, win);
  Planes d = planes_of(x, y);
  host::dispatch_float(x.dtype(), "max_pool2d_forward", [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();  // pointers hoisted: data<T>() checks the dtype on every call
    int32_t* where_out = indices.data<int32_t>();
    const T* src = x.data<T>();
    parallel_chunks(d.count, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) {
        const T* in = src + pl * d.h * d.w;
        T* plane_out = out + pl * d.p * d.q;
        int32_t* plane_where = where_out + pl * d.p * d.q;
        const bool unpadded = win.pad_h == 0 && win.pad_w == 0;
        if constexpr (std::is_same_v<T, float>) {
          if (unpadded && win.kernel_h == 2 && win.kernel_w == 2 && win.stride_h == 2 && win.stride_w == 2 &&
              d.h * d.w < (int64_t(1) << 24)) {
            max_2x2_rows(in, d, plane_out, plane_where);
            continue;
          }
        }
        if (unpadded)
          unpadded_max_rows(in, d, win, plane_out, plane_where);
        else
          padded_max_rows(in, d, win, plane_out, plane_where);
      }
    });
  });
}

void CpuBackend::max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Tensor& dx,
                                           const Window2d& win) {
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dx}, &CpuBackend::max_pool2d_backward, dy, indices, dx, win);
  Planes d = planes_of(dx, dy);
  host::dispatch_float(dy.dtype(), "max_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const int32_t* where = indices.data<int32_t>();
    const T* g = dy.data<T>();
    parallel_chunks(d.count, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) {
        T* out = dx.data<T>() + pl * d.h * d.w;
        std::fill(out, out + d.h * d.w, T(0));
        for (int64_t o = pl * d.p * d.q; o < (pl + 1) * d.p * d.q; ++o)
          out[where[o]] += g[o];
      }
    });
  });
}

void CpuBackend::avg_pool2d_forward(const Tensor& x, const Tensor& y, const Window2d& win) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::avg_pool2d_forward, x, y, win);
  Planes d = planes_of(x, y);
  host::dispatch_float(x.dtype(), "avg_pool2d_forward", [&](auto zero) {
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
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dx}, &CpuBackend::avg_pool2d_backward, dy, dx, win);
  Planes d = planes_of(dx, dy);
  host::dispatch_float(dy.dtype(), "avg_pool2d_backward", [&](auto zero) {
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

}  // namespace nnlab::cpu
