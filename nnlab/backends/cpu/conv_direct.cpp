#include "nnlab/backends/cpu/conv_direct.h"

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/simd.h"

namespace nnlab::cpu::direct {
namespace {
template <typename T>
using S = simd::Vec<T>;

// A zero-padded copy of channels of one image: `rows` x `stride`, the image at (pad_h, pad_w);
// the stride leaves room for whole vectors past the last output column (whose lanes are never
// stored, or in the filter gradient multiply zeros), plus kTail values after the last row: a
// vector's load, or the columns a forward_filters_row tile reads past the row (at most 11).
template <typename T>
struct Padded {
  int64_t rows = 0, stride = 0;
  int64_t image_rows_begin = 0, image_rows_end = 0;  // the rows that hold the image, not padding
  std::vector<T> data;
  static constexpr int64_t kTail = S<T>::kWidth + 16;
  // Copies `channels` planes of h x w; `planes` >= channels are allocated (the rest zero).
  void fill(const T* image, int64_t channels, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w,
            int64_t rows_, int64_t stride_, int64_t planes = 0) {
    rows = rows_, stride = stride_;
    image_rows_begin = pad_h, image_rows_end = pad_h + h;
    data.assign(size_t(std::max(planes, channels) * rows * stride + kTail), T(0));
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t i = 0; i < h; ++i)
        std::copy_n(image + (ch * h + i) * w, w, data.data() + (ch * rows + i + pad_h) * stride + pad_w);
  }
  const T* row(int64_t ch, int64_t i) const { return data.data() + (ch * rows + i) * stride; }
  // The kernel rows [begin, end) of output row p that read image rows, not padding: the others
  // only multiply zeros. LeNet's conv2 data gradient, its 10x10 output gradient padded by 4 on
  // each side, multiplies zeros in half of its taps; 20 of its 70 pairs of output row and
  // kernel row read padding alone. Skipping those, bench_ops 1 thread: 700 -> 514 us on the
  // x86-64-v3 build, 740-830 -> 590-600 us native. Columns stay whole vectors.
  std::pair<int64_t, int64_t> kernel_rows(int64_t p, int64_t r) const {
    return {std::clamp<int64_t>(image_rows_begin - p, 0, r), std::clamp<int64_t>(image_rows_end - p, 0, r)};
  }
};

// The block among `choices` that covers n in the fewest slots (whole blocks), the largest of
// those (1 when none of them `fits`): a slot past n is an FMA of nothing.
template <typename Fits>
int64_t least_waste_block(int64_t n, std::initializer_list<int64_t> choices, Fits fits) {
  auto slots = [n](int64_t b) { return (n + b - 1) / b * b; };
  int64_t best = 0;
  for (int64_t b : choices)
    if (fits(b) && (best == 0 || slots(b) < slots(best) || (slots(b) == slots(best) && b > best))) best = b;
  return best == 0 ? 1 : best;
}

// The block of filters (from `choices`, 1 among them) whose accumulators fit the vector
// registers with `per_filter` vectors each and `spare` more, wasting the fewest filter slots.
int64_t filter_block(int64_t k, int64_t per_filter, int64_t spare, std::initializer_list<int64_t> choices) {
  return least_waste_block(k, choices, [&](int64_t b) { return b * per_filter + spare <= simd::kRegisters; });
}

// Calls f(std::integral_constant<int, B>{}) with the least-waste block B among Most, Most - 1
// and Most - 2. LeNet's conv2 on AVX2, 10 output columns and 25 taps: blocks of 5 instead of 6
// columns (10 slots, not 12) in the forward pass and taps (25, not 30) in the filter gradient.
// Most - 2 keeps at least 8 accumulators (2 FMA pipes x 4 cycles) in the tiles that use this.
template <int Most, typename F>
void with_least_waste_block(int64_t n, F&& f) {
  static_assert(Most >= 3, "three candidate blocks");
  const int64_t best = least_waste_block(n, {Most, Most - 1, Most - 2}, [](int64_t) { return true; });
  if (best == Most) return f(std::integral_constant<int, Most>{});
  if (best == Most - 1) return f(std::integral_constant<int, Most - 1>{});
  return f(std::integral_constant<int, Most - 2>{});
}

// The forward register tile: QV vectors of output columns x KB filters, KB x QV accumulators,
// QV row loads and a broadcast weight in registers. Least work first (columns rounded up to
// whole tiles of QV vectors, filters to whole blocks), then the most accumulators: with as
// many as the FMA pipes x their latency (8) every tap waits for the one before. LeNet's conv1
// forward on AVX2 (28 columns, 6 filters) as 4 vectors x 2 filters against 2 x 6, the same
// work: 940 -> 580 us (bench_ops, 1 thread).
std::pair<int64_t, int64_t> forward_tile_shape(int64_t k, int64_t q, int64_t width) {
  int64_t best_qv = 1, best_kb = 1, best_work = -1;
  for (int64_t qv = 1; qv <= 4; ++qv) {
    const int64_t kb = filter_block(k, qv, qv + 1, {16, 8, 6, 4, 2, 1});
    const int64_t work = (q + qv * width - 1) / (qv * width) * qv * ((k + kb - 1) / kb * kb);
    if (best_work < 0 || work < best_work || (work == best_work && kb * qv > best_kb * best_qv))
      best_qv = qv, best_kb = kb, best_work = work;
  }
  return {best_qv, best_kb};
}

// One output row p of KB filters (k0 ..) over QV vectors of columns from q0: the taps of
// channel ch, row r, column s broadcast from wt[(k0 + kb) * crs + (ch * r + rr) * s + ss].
template <typename T, int KB, int QV>
void forward_tile(const Padded<T>& xp, const T* wt, int64_t c, int64_t r, int64_t s, int64_t p,
                  int64_t q0, T* out, int64_t out_row_stride /* between filters */, int64_t columns,
                  const T* bias) {
  using V = typename S<T>::V;
  constexpr int W = S<T>::kWidth;
  const int64_t crs = c * r * s;
  V acc[KB][QV];
  for (int kb = 0; kb < KB; ++kb)
    for (int v = 0; v < QV; ++v) acc[kb][v] = bias ? S<T>::broadcast(bias[kb]) : S<T>::zero();
  const auto [rr_begin, rr_end] = xp.kernel_rows(p, r);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t rr = rr_begin; rr < rr_end; ++rr) {
      const T* row = xp.row(ch, p + rr) + q0;
      const T* taps = wt + (ch * r + rr) * s;
      for (int64_t ss = 0; ss < s; ++ss) {
        V xv[QV];
        for (int v = 0; v < QV; ++v) xv[v] = S<T>::load(row + ss + v * W);
        for (int kb = 0; kb < KB; ++kb) {
          const V a = S<T>::broadcast(taps[kb * crs + ss]);
          for (int v = 0; v < QV; ++v) acc[kb][v] = S<T>::fma(a, xv[v], acc[kb][v]);
        }
      }
    }
  alignas(64) T lanes[QV * W];
  for (int kb = 0; kb < KB; ++kb) {
    T* dst = out + kb * out_row_stride;
    if (columns == QV * W) {
      for (int v = 0; v < QV; ++v) S<T>::store(dst + v * W, acc[kb][v]);
    } else {
      for (int v = 0; v < QV; ++v) S<T>::store(lanes + v * W, acc[kb][v]);
      std::copy_n(lanes, columns, dst);
    }
  }
}

template <typename T, int KB, int QV>
void forward_image(const Padded<T>& xp, const T* wt, const T* bias, T* y, int64_t c, int64_t k,
                   int64_t r, int64_t s, int64_t p, int64_t q) {
  constexpr int64_t W = S<T>::kWidth;
  alignas(64) T partial[KB * QV * W];  // rows of the last filter block when k % KB != 0
  for (int64_t k0 = 0; k0 < k; k0 += KB)
    for (int64_t row = 0; row < p; ++row)
      for (int64_t q0 = 0; q0 < q; q0 += QV * W) {
        const int64_t columns = std::min<int64_t>(QV * W, q - q0);
        const T* b = bias ? bias + k0 : nullptr;
        if (k0 + KB <= k) {
          forward_tile<T, KB, QV>(xp, wt + k0 * c * r * s, c, r, s, row, q0, y + (k0 * p + row) * q + q0,
                                  p * q, columns, b);
        } else {  // weights are padded with zero filters; keep only the real ones
          T bias_rows[KB] = {};
          if (b) std::copy(b, b + (k - k0), bias_rows);
          forward_tile<T, KB, QV>(xp, wt + k0 * c * r * s, c, r, s, row, q0, partial, QV * W, columns,
                                  b ? bias_rows : nullptr);
          for (int64_t kb = 0; kb < k - k0; ++kb)
            std::copy_n(partial + kb * QV * W, columns, y + ((k0 + kb) * p + row) * q + q0);
        }
      }
}

template <typename T, int KB>
void forward_dispatch_qv(int64_t qv, const Padded<T>& xp, const T* wt, const T* bias, T* y, int64_t c,
                         int64_t k, int64_t r, int64_t s, int64_t p, int64_t q) {
  switch (qv) {
    case 1: return forward_image<T, KB, 1>(xp, wt, bias, y, c, k, r, s, p, q);
    case 2: return forward_image<T, KB, 2>(xp, wt, bias, y, c, k, r, s, p, q);
    case 3: return forward_image<T, KB, 3>(xp, wt, bias, y, c, k, r, s, p, q);
    default: return forward_image<T, KB, 4>(xp, wt, bias, y, c, k, r, s, p, q);
  }
}

// Lanes of the filter gradient: acc[kb][ss] += dy row of filter kb x the input row shifted by
// ss, over the chunk's images, output rows and column vectors; then each reduced across lanes.
// The SB shifted input vectors are loaded once and kept in registers for the KB filters (GCC
// would load each again per filter), the rows' addresses found once per row: LeNet's conv1
// filter gradient on AVX2, 1 thread, 973 -> 873 us for the addresses, -> 725 us for the loads.
template <typename T, int KB, int SB>
void filter_tile(const std::vector<Padded<T>>& xs, const std::vector<Padded<T>>& dys, int64_t ch,
                 int64_t rr, int64_t s0, int64_t k0, int64_t p, int64_t qv, T tile[KB][SB]) {
  using V = typename S<T>::V;
  constexpr int W = S<T>::kWidth;
  V acc[KB][SB];
  for (int kb = 0; kb < KB; ++kb)
    for (int ss = 0; ss < SB; ++ss) acc[kb][ss] = S<T>::zero();
  for (size_t i = 0; i < xs.size(); ++i)
    for (int64_t row = 0; row < p; ++row) {
      const T* xrow = xs[i].row(ch, row + rr) + s0;
      const T* drow[KB];
      for (int kb = 0; kb < KB; ++kb) drow[kb] = dys[i].row(k0 + kb, row);
      for (int64_t v = 0; v < qv; ++v) {
        V xv[SB];
        for (int ss = 0; ss < SB; ++ss) {
          xv[ss] = S<T>::load(xrow + v * W + ss);
          simd::keep_in_register(xv[ss]);
        }
        for (int kb = 0; kb < KB; ++kb) {
          const V d = S<T>::load(drow[kb] + v * W);
          for (int ss = 0; ss < SB; ++ss) acc[kb][ss] = S<T>::fma(d, xv[ss], acc[kb][ss]);
        }
      }
    }
  alignas(64) T lanes[W];
  for (int kb = 0; kb < KB; ++kb)
    for (int ss = 0; ss < SB; ++ss) {
      S<T>::store(lanes, acc[kb][ss]);
      T sum = T(0);
      for (int l = 0; l < W; ++l) sum += lanes[l];
      tile[kb][ss] = sum;
    }
}

// The chunk's filter gradient: every (channel, kernel row, block of filters, block of taps).
template <typename T, int KB, int SB>
void filter_chunk(const std::vector<Padded<T>>& xs, const std::vector<Padded<T>>& dys, int64_t c,
                  int64_t k, int64_t r, int64_t s, int64_t p, int64_t qv, T* dw) {
  const int64_t crs = c * r * s;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t rr = 0; rr < r; ++rr)
      for (int64_t k0 = 0; k0 < k; k0 += KB)
        for (int64_t s0 = 0; s0 < s; s0 += SB) {
          T tile[KB][SB];
          filter_tile<T, KB, SB>(xs, dys, ch, rr, s0, k0, p, qv, tile);
          for (int64_t kb = 0; kb < std::min<int64_t>(KB, k - k0); ++kb)
            std::copy_n(tile[kb], SB, dw + (k0 + kb) * crs + (ch * r + rr) * s + s0);
        }
}

template <typename T, int SB>
void filter_chunk_kb(int64_t kb, const std::vector<Padded<T>>& xs, const std::vector<Padded<T>>& dys,
                     int64_t c, int64_t k, int64_t r, int64_t s, int64_t p, int64_t qv, T* dw) {
  switch (kb) {
    case 5: return filter_chunk<T, 5, SB>(xs, dys, c, k, r, s, p, qv, dw);
    case 4: return filter_chunk<T, 4, SB>(xs, dys, c, k, r, s, p, qv, dw);
    case 3: return filter_chunk<T, 3, SB>(xs, dys, c, k, r, s, p, qv, dw);
    case 2: return filter_chunk<T, 2, SB>(xs, dys, c, k, r, s, p, qv, dw);
    default: return filter_chunk<T, 1, SB>(xs, dys, c, k, r, s, p, qv, dw);
  }
}

// With at least a vector of filters (LeNet's conv2: 16), vectors run across filters instead,
// every lane used (its 10 output columns filled 10 of 16): one weight vector per tap
// (wk: [c][r][s][k padded to KV vectors]), broadcast inputs, a register tile of QB output
// columns x KV vectors of filters. Out of line: inlined into the block choice's lambda it ran
// 5% slower (conv2's forward, native: 343 against 361 us).
template <typename T, int KV, int QB>
NNLAB_NOINLINE void forward_filters_row(const Padded<T>& xp, const T* wk, int64_t c, int64_t r, int64_t s,
                                        int64_t p, int64_t q0, int64_t columns, const T* bias, int64_t k,
                                        T* y_image, int64_t q, int64_t plane) {
  using V = typename S<T>::V;
  constexpr int W = S<T>::kWidth;
  V acc[QB][KV];
  for (int kv = 0; kv < KV; ++kv) {
    const V b = bias ? S<T>::load(bias + kv * W) : S<T>::zero();
    for (int qb = 0; qb < QB; ++qb) acc[qb][kv] = b;
  }
  const auto [rr_begin, rr_end] = xp.kernel_rows(p, r);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t rr = rr_begin; rr < rr_end; ++rr) {
      const T* row = xp.row(ch, p + rr) + q0;
      const T* taps = wk + (ch * r + rr) * s * KV * W;
      for (int64_t ss = 0; ss < s; ++ss) {
        V wv[KV];
        for (int kv = 0; kv < KV; ++kv) wv[kv] = S<T>::load(taps + (ss * KV + kv) * W);
        for (int qb = 0; qb < QB; ++qb) {
          const V xv = S<T>::broadcast(row[ss + qb]);
          for (int kv = 0; kv < KV; ++kv) acc[qb][kv] = S<T>::fma(xv, wv[kv], acc[qb][kv]);
        }
      }
    }
  alignas(64) T lanes[QB][KV * W];
  for (int qb = 0; qb < QB; ++qb)
    for (int kv = 0; kv < KV; ++kv) S<T>::store(lanes[qb] + kv * W, acc[qb][kv]);
  for (int64_t f = 0; f < k; ++f)
    for (int64_t qb = 0; qb < columns; ++qb) y_image[f * plane + p * q + q0 + qb] = lanes[qb][f];
}

template <typename T, int KV>
void forward_filters_image(const Padded<T>& xp, const T* wk, const T* bias, T* y, int64_t c, int64_t k,
                           int64_t r, int64_t s, int64_t p, int64_t q) {
  constexpr int kMost = std::min((simd::kRegisters - KV - 1) / KV, 12);
  static_assert((kMost - 2) * KV >= 8, "the smallest block keeps 8 accumulators");
  with_least_waste_block<kMost>(q, [&](auto block) {
    constexpr int QB = decltype(block)::value;
    for (int64_t row = 0; row < p; ++row)
      for (int64_t q0 = 0; q0 < q; q0 += QB)
        forward_filters_row<T, KV, QB>(xp, wk, c, r, s, row, q0, std::min<int64_t>(QB, q - q0), bias, k, y, q,
                                       p * q);
  });
}

// The filter gradient with vectors across filters: for one channel, a register tile of TB
// kernel taps x KV vectors of filters; per output pixel one vector of dy (dyt: [pixel][k
// padded]) and one broadcast input per tap. The tap loops are unrolled by request: 25 taps (the
// AVX-512 tile) are past GCC's own limit, and as a loop its accumulators lived in memory, a
// load and a store around every FMA (LeNet's conv2 filter gradient, native: 548 -> 370 us).
// Out of line, as forward_filters_row: 3-5% faster than inlined into the block choice.
template <typename T, int KV, int TB>
NNLAB_NOINLINE void filter_filters_taps(const std::vector<Padded<T>>& xs,
                                        const std::vector<std::vector<T>>& dyts, int64_t ch,
                                        const int64_t* offsets, int64_t p, int64_t q,
                                        T* lanes /* [TB][KV*W] */) {
  using V = typename S<T>::V;
  constexpr int W = S<T>::kWidth;
  static_assert(TB <= 32, "the unroll requests below cover every tap of the tile");
  V acc[TB][KV];
#pragma GCC unroll 32
  for (int tb = 0; tb < TB; ++tb)
    for (int kv = 0; kv < KV; ++kv) acc[tb][kv] = S<T>::zero();
  for (size_t i = 0; i < xs.size(); ++i) {
    const T* d = dyts[i].data();
    for (int64_t row = 0; row < p; ++row) {
      const T* xrow = xs[i].row(ch, row);
      for (int64_t col = 0; col < q; ++col, d += KV * W) {
        V dv[KV];
        for (int kv = 0; kv < KV; ++kv) dv[kv] = S<T>::load(d + kv * W);
#pragma GCC unroll 32
        for (int tb = 0; tb < TB; ++tb) {
          const V xv = S<T>::broadcast(xrow[col + offsets[tb]]);
          for (int kv = 0; kv < KV; ++kv) acc[tb][kv] = S<T>::fma(xv, dv[kv], acc[tb][kv]);
        }
      }
    }
  }
#pragma GCC unroll 32
  for (int tb = 0; tb < TB; ++tb)
    for (int kv = 0; kv < KV; ++kv) S<T>::store(lanes + tb * KV * W + kv * W, acc[tb][kv]);
}

template <typename T, int KV>
void filter_filters_chunk(const std::vector<Padded<T>>& xs, const std::vector<std::vector<T>>& dyts,
                          int64_t c, int64_t k, int64_t r, int64_t s, int64_t p, int64_t q, int64_t stride,
                          T* dw) {
  constexpr int W = S<T>::kWidth;
  constexpr int kMost = std::min((simd::kRegisters - KV - 1) / KV, 25);
  static_assert((kMost - 2) * KV >= 8, "the smallest block keeps 8 accumulators");
  const int64_t taps = r * s;
  with_least_waste_block<kMost>(taps, [&](auto block) {
    constexpr int TB = decltype(block)::value;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t t0 = 0; t0 < taps; t0 += TB) {
        int64_t offsets[TB];
        for (int tb = 0; tb < TB; ++tb) {
          const int64_t t = std::min(t0 + tb, taps - 1);  // a repeated tap past the end: not stored
          offsets[tb] = t / s * stride + t % s;
        }
        alignas(64) T lanes[TB * KV * W];
        filter_filters_taps<T, KV, TB>(xs, dyts, ch, offsets, p, q, lanes);
        for (int64_t tb = 0; tb < std::min<int64_t>(TB, taps - t0); ++tb)
          for (int64_t f = 0; f < k; ++f) dw[(f * c + ch) * taps + t0 + tb] = lanes[tb * KV * W + f];
      }
  });
}
}  // namespace

bool applies(int64_t stride_h, int64_t stride_w, int64_t dilation_h, int64_t dilation_w) {
  return stride_h == 1 && stride_w == 1 && dilation_h == 1 && dilation_w == 1;
}

template <typename T>
void forward(const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t c, int64_t h,
             int64_t width, int64_t k, int64_t r, int64_t s, int64_t pad_h, int64_t pad_w,
             WeightLayout layout, int threads) {
  constexpr int64_t W = S<T>::kWidth;
  const int64_t p = h + 2 * pad_h - r + 1, q = width + 2 * pad_w - s + 1, crs = c * r * s;
  const auto [qv, kb] = forward_tile_shape(k, q, W);
  // Weights as [k][c][r][s], padded with zero filters to whole blocks.
  std::vector<T> wt(size_t((k + kb - 1) / kb * kb * crs), T(0));
  for (int64_t f = 0; f < k; ++f)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < r * s; ++i)
        wt[size_t((f * c + ch) * r * s + i)] = layout == WeightLayout::Direct
                                                   ? w[(f * c + ch) * r * s + i]
                                                   : w[(ch * k + f) * r * s + (r * s - 1 - i)];
  const int64_t covered = (q + qv * W - 1) / (qv * W) * (qv * W);  // columns the vectors compute
  const int64_t kv = (k + W - 1) / W;
  if (k >= W && kv <= 2) {  // vectors across filters: wk [c][r][s][kv * W], bias padded alike
    std::vector<T> wk(size_t(crs * kv * W), T(0)), b(size_t(kv * W), T(0));
    for (int64_t f = 0; f < k; ++f)
      for (int64_t t = 0; t < crs; ++t) wk[size_t(t * kv * W + f)] = wt[size_t(f * crs + t)];
    if (bias) std::copy_n(bias, k, b.data());
    parallel_chunks(n, 1, threads, [&](int64_t lo, int64_t hi) {
      thread_local Padded<T> xp;
      for (int64_t i = lo; i < hi; ++i) {
        xp.fill(x + i * c * h * width, c, h, width, pad_h, pad_w, p + r - 1, q + s - 1);
        if (kv == 1)
          forward_filters_image<T, 1>(xp, wk.data(), bias ? b.data() : nullptr, y + i * k * p * q, c, k, r, s, p, q);
        else
          forward_filters_image<T, 2>(xp, wk.data(), bias ? b.data() : nullptr, y + i * k * p * q, c, k, r, s, p, q);
      }
    });
    return;
  }
  parallel_chunks(n, 1, threads, [&](int64_t lo, int64_t hi) {
    thread_local Padded<T> xp;
    for (int64_t i = lo; i < hi; ++i) {
      xp.fill(x + i * c * h * width, c, h, width, pad_h, pad_w, p + r - 1, covered + s - 1);
      T* out = y + i * k * p * q;
      switch (kb) {
        case 16: forward_dispatch_qv<T, 16>(qv, xp, wt.data(), bias, out, c, k, r, s, p, q); break;
        case 8: forward_dispatch_qv<T, 8>(qv, xp, wt.data(), bias, out, c, k, r, s, p, q); break;
        case 6: forward_dispatch_qv<T, 6>(qv, xp, wt.data(), bias, out, c, k, r, s, p, q); break;
        case 4: forward_dispatch_qv<T, 4>(qv, xp, wt.data(), bias, out, c, k, r, s, p, q); break;
        case 2: forward_dispatch_qv<T, 2>(qv, xp, wt.data(), bias, out, c, k, r, s, p, q); break;
        default: forward_dispatch_qv<T, 1>(qv, xp, wt.data(), bias, out, c, k, r, s, p, q); break;
      }
    }
  });
}

template <typename T>
void backward_filter(const T* dy, const T* x, T* dw, int64_t n, int64_t c, int64_t h,
                     int64_t width, int64_t k, int64_t r, int64_t s, int64_t pad_h, int64_t pad_w,
                     int threads) {
  constexpr int64_t W = S<T>::kWidth;
  const int64_t p = h + 2 * pad_h - r + 1, q = width + 2 * pad_w - s + 1, size = k * c * r * s;
  const int64_t qv = (q + W - 1) / W;
  // Taps along a kernel row in blocks of SB (LeNet's 5; else 3 or 1), filters in blocks whose
  // KB x SB accumulators fit the registers.
  const int64_t sb = s % 5 == 0 ? 5 : s % 3 == 0 ? 3 : 1;
  const int64_t kb = filter_block(k, sb, sb + 1, {5, 4, 3, 2, 1});
  const int64_t chunks = std::min<int64_t>(n, 8), kv = (k + W - 1) / W;
  std::vector<T> partial(size_t(chunks * size));
  if (k >= W && kv <= 2) {  // vectors across filters: dy transposed to [pixel][k padded]
    parallel_chunks(chunks, 1, threads, [&](int64_t lo, int64_t hi) {
      std::vector<Padded<T>> xs;
      std::vector<std::vector<T>> dyts;
      for (int64_t chunk = lo; chunk < hi; ++chunk) {
        const int64_t first = n * chunk / chunks, last = n * (chunk + 1) / chunks;
        xs.resize(size_t(last - first));
        dyts.resize(size_t(last - first));
        for (int64_t i = first; i < last; ++i) {
          Padded<T>& xp = xs[size_t(i - first)];
          xp.fill(x + i * c * h * width, c, h, width, pad_h, pad_w, p + r - 1, q + s - 1);
          std::vector<T>& d = dyts[size_t(i - first)];
          d.assign(size_t(p * q * kv * W), T(0));
          // pixel by pixel: the writes in order, the reads in k streams
          const T* dy_image = dy + i * k * p * q;
          for (int64_t j = 0; j < p * q; ++j)
            for (int64_t f = 0; f < k; ++f) d[size_t(j * kv * W + f)] = dy_image[f * p * q + j];
        }
        T* out = partial.data() + chunk * size;
        if (kv == 1)
          filter_filters_chunk<T, 1>(xs, dyts, c, k, r, s, p, q, q + s - 1, out);
        else
          filter_filters_chunk<T, 2>(xs, dyts, c, k, r, s, p, q, q + s - 1, out);
      }
    });
  } else
  parallel_chunks(chunks, 1, threads, [&](int64_t lo, int64_t hi) {
    std::vector<Padded<T>> xs, dys;
    for (int64_t chunk = lo; chunk < hi; ++chunk) {
      const int64_t first = n * chunk / chunks, last = n * (chunk + 1) / chunks;
      xs.resize(size_t(last - first));
      dys.resize(size_t(last - first));
      for (int64_t i = first; i < last; ++i) {
        xs[size_t(i - first)].fill(x + i * c * h * width, c, h, width, pad_h, pad_w, p + r - 1, qv * W + s - 1);
        // dy rows padded with zeros to whole vectors (those lanes must add nothing), and with
        // zero filters to whole blocks
        dys[size_t(i - first)].fill(dy + i * k * p * q, k, p, q, 0, 0, p, qv * W, (k + kb - 1) / kb * kb);
      }
      T* out = partial.data() + chunk * size;
      switch (sb) {
        case 5: filter_chunk_kb<T, 5>(kb, xs, dys, c, k, r, s, p, qv, out); break;
        case 3: filter_chunk_kb<T, 3>(kb, xs, dys, c, k, r, s, p, qv, out); break;
        default: filter_chunk_kb<T, 1>(kb, xs, dys, c, k, r, s, p, qv, out); break;
      }
    }
  });
  std::copy_n(partial.data(), size, dw);
  for (int64_t chunk = 1; chunk < chunks; ++chunk)
    for (int64_t i = 0; i < size; ++i) dw[i] += partial[size_t(chunk * size + i)];
}

template void forward<float>(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t,
                             int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, WeightLayout, int);
template void forward<double>(const double*, const double*, const double*, double*, int64_t, int64_t,
                              int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, WeightLayout, int);
template void backward_filter<float>(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                     int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int);
template void backward_filter<double>(const double*, const double*, double*, int64_t, int64_t, int64_t,
                                      int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int);

}  // namespace nnlab::cpu::direct
