// F(2x2, 3x3) on the packed GEMM (nnlab/backends/cpu/winograd.h says what and why). Tiles are numbered
// across the batch, row by row of tiles; transforms run along a tile row over deinterleaved
// (even, odd) input columns, so that they vectorise across tiles. Every transform is a fixed
// sequence of additions and the GEMMs reduce in a fixed order, so results do not depend on the
// thread count; the filter gradient adds its chunks of tiles in order, chunks fixed by shape.
#include "nnlab/backends/cpu/winograd.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/packed_gemm.h"
#include "nnlab/backends/cpu/simd.h"

namespace nnlab::cpu::winograd {
namespace {
constexpr int kPoints = 16;  // elements of a transformed 4x4 tile, one GEMM each

struct Tiling {
  int64_t n, c, h, w, k, pad_h, pad_w, p, q, tiles_y, tiles_x;
  int64_t rows() const { return n * tiles_y; }  // tile rows of the batch
};

Tiling tiling(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t pad_h, int64_t pad_w) {
  const int64_t p = h + 2 * pad_h - 2, q = w + 2 * pad_w - 2;
  return {n, c, h, w, k, pad_h, pad_w, p, q, (p + 1) / 2, (q + 1) / 2};
}

// dg = G^T du G, 3x3 filter gradients from their transformed 4x4 sums, for `count` <= W
// channels side by side: point xi of channel j at du[xi * point_stride + j], tap t of its
// gradient to dg[j * 9 + t].
template <typename T>
void filter_gradient_transform(const T* du, int64_t point_stride, int64_t count, T* dg) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  constexpr int W = S::kWidth;
  alignas(64) T part[W], taps[9][W];
  V d[kPoints];
  for (int xi = 0; xi < kPoints; ++xi) {
    if (count == W) {
      d[xi] = S::load(du + xi * point_stride);
      continue;
    }
    std::fill(part, part + W, T(0));
    std::copy_n(du + xi * point_stride, count, part);
    d[xi] = S::load(part);
  }
  const V half = S::broadcast(T(0.5));
  V t[3][4];
  for (int j = 0; j < 4; ++j) {
    const V d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j];
    t[0][j] = S::add(d0, S::mul(S::add(d1, d2), half));
    t[1][j] = S::mul(S::sub(d1, d2), half);
    t[2][j] = S::add(S::mul(S::add(d1, d2), half), d3);
  }
  for (int i = 0; i < 3; ++i) {
    S::store(taps[i * 3 + 0], S::add(t[i][0], S::mul(S::add(t[i][1], t[i][2]), half)));
    S::store(taps[i * 3 + 1], S::mul(S::sub(t[i][1], t[i][2]), half));
    S::store(taps[i * 3 + 2], S::add(S::mul(S::add(t[i][1], t[i][2]), half), t[i][3]));
  }
  for (int64_t j = 0; j < count; ++j)
    for (int tap = 0; tap < 9; ++tap) dg[j * 9 + tap] = taps[tap][j];
}

// Scratch of one thread, grown to the largest range of tiles it transforms.
template <typename T>
struct Scratch {
  static constexpr int64_t W = simd::Vec<T>::kWidth;
  std::vector<T> even, odd, points;
  static T* at_least(std::vector<T>& v, int64_t n) {
    if (v.size() < size_t(n)) v.assign(size_t(n), T(0));  // zeros: lanes past the end stay finite
    return v.data();
  }
};

// The tile rows that tiles [t0, t1) of the batch touch (t = row * tiles_x + tx, row = image *
// tiles_y + ty), each padded by one column: tile t sits at u = (row - first_row) * (tiles_x + 1)
// + tx of a "padded" index, so that a tile and its right neighbour's columns are adjacent even
// at the end of a row, and vectors run across rows (64x64 images have 1-8 tiles a row).
struct PaddedRows {
  int64_t first_row, rows, width;  // width = tiles_x + 1
  PaddedRows(const Tiling& g, int64_t t0, int64_t t1)
      : first_row(t0 / g.tiles_x), rows((t1 - 1) / g.tiles_x - t0 / g.tiles_x + 1), width(g.tiles_x + 1) {}
  int64_t size() const { return rows * width; }
  // Calls f(u, t, count): `count` tiles from t at padded index u, row by row, within [t0, t1).
  template <typename F>
  void for_each_run(const Tiling& g, int64_t t0, int64_t t1, F f) const {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row_start = (first_row + r) * g.tiles_x;
      const int64_t lo = std::max(t0, row_start), hi = std::min(t1, row_start + g.tiles_x);
      f(r * width + (lo - row_start), lo, hi - lo);
    }
  }
};

// e[m] = line[2m - pad], o[m] = line[2m + 1 - pad] for m in [0, count), zero outside the
// line's w columns. The columns between the edges are copied without bounds checks, which the
// compiler vectorises (checked element by element, this copy was half of the forward
// transform's time at ResNet-18's 56x56 layers).
template <typename T>
void deinterleave(const T* line, int64_t w, int64_t pad, int64_t count, T* __restrict e, T* __restrict o) {
  auto checked = [&](int64_t m) {
    const int64_t ec = 2 * m - pad, oc = ec + 1;
    e[m] = ec >= 0 && ec < w ? line[ec] : T(0);
    o[m] = oc >= 0 && oc < w ? line[oc] : T(0);
  };
  // Both columns inside: 2m - pad >= 0 and 2m + 1 - pad < w.
  const int64_t lo = std::min(count, (pad + 1) / 2), hi = std::max(lo, std::min(count, (w + pad) / 2));
  for (int64_t m = 0; m < lo; ++m) checked(m);
  const T* __restrict src = line + 2 * lo - pad;
  for (int64_t m = 0; m < hi - lo; ++m) {
    e[lo + m] = src[2 * m];
    o[lo + m] = src[2 * m + 1];
  }
  for (int64_t m = hi; m < count; ++m) checked(m);
}

// Transforms channel `ch` of tiles [t0, t1), V = B^T d B with B^T = [1 0 -1 0; 0 1 1 0;
// 0 -1 1 0; 0 1 0 -1]: emit(xi, first, count, values) stores point xi of `count` tiles from
// t0 + first. The 4 input
// rows of each tile row are split into even and odd columns first: tile tx reads columns
// 2tx .. 2tx + 3, that is even[tx], odd[tx], even[tx + 1], odd[tx + 1].
template <typename T, typename Emit>
void transform_input(const T* x, const Tiling& g, int64_t ch, int64_t t0, int64_t t1, Emit emit,
                     Scratch<T>& sc) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  constexpr int64_t W = S::kWidth;
  const PaddedRows pr(g, t0, t1);
  const int64_t np = (pr.size() + W - 1) / W * W, stride = np + W;  // + W: the tx + 1 reads
  T* even = Scratch<T>::at_least(sc.even, 4 * stride);
  T* odd = Scratch<T>::at_least(sc.odd, 4 * stride);
  for (int64_t r = 0; r < pr.rows; ++r) {
    const int64_t row = pr.first_row + r, image = row / g.tiles_y, ty = row % g.tiles_y;
    const T* plane = x + (image * g.c + ch) * g.h * g.w;
    for (int i = 0; i < 4; ++i) {
      const int64_t ih = 2 * ty - g.pad_h + i;
      T *e = even + i * stride + r * pr.width, *o = odd + i * stride + r * pr.width;
      if (ih >= 0 && ih < g.h) {
        deinterleave(plane + ih * g.w, g.w, g.pad_w, pr.width, e, o);
      } else {
        std::fill(e, e + pr.width, T(0));
        std::fill(o, o + pr.width, T(0));
      }
    }
  }
  T* v = Scratch<T>::at_least(sc.points, kPoints * np + W);  // + W: copy_short's last read
  for (int64_t u = 0; u < np; u += W) {
    V d[4][4];
    for (int i = 0; i < 4; ++i) {
      const T *e = even + i * stride + u, *o = odd + i * stride + u;
      d[i][0] = S::load(e), d[i][1] = S::load(o), d[i][2] = S::load(e + 1), d[i][3] = S::load(o + 1);
    }
    V r[4][4];  // B^T d, then (B^T d) B
    for (int j = 0; j < 4; ++j) {
      r[0][j] = S::sub(d[0][j], d[2][j]);
      r[1][j] = S::add(d[1][j], d[2][j]);
      r[2][j] = S::sub(d[2][j], d[1][j]);
      r[3][j] = S::sub(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; ++i) {
      S::store(v + (i * 4 + 0) * np + u, S::sub(r[i][0], r[i][2]));
      S::store(v + (i * 4 + 1) * np + u, S::add(r[i][1], r[i][2]));
      S::store(v + (i * 4 + 2) * np + u, S::sub(r[i][2], r[i][1]));
      S::store(v + (i * 4 + 3) * np + u, S::sub(r[i][1], r[i][3]));
    }
  }
  pr.for_each_run(g, t0, t1, [&](int64_t u, int64_t t, int64_t count) {
    for (int xi = 0; xi < kPoints; ++xi) emit(xi, t - t0, count, v + xi * np + u);
  });
}

// Calls f(image, oy, ox, first, count): the tiles [t0, t1) of the batch by runs along a tile
// row: `count` tiles from t0 + first, whose outputs start at row oy, column ox of `image`.
template <typename F>
void for_each_row_run(const Tiling& g, int64_t t0, int64_t t1, F f) {
  for (int64_t t = t0; t < t1;) {
    const int64_t row = t / g.tiles_x, tx = t % g.tiles_x, count = std::min(g.tiles_x - tx, t1 - t);
    f(row / g.tiles_y, 2 * (row % g.tiles_y), 2 * tx, t - t0, count);
    t += count;
  }
}

// The output transform of filter f over tiles [t0, t1), y = A^T m A with A^T = [1 1 1 0;
// 0 1 -1 -1]: m[xi] of tile t at products[xi * point_stride + (t - t0)] (readable W - 1
// elements past the last tile), written into NCHW y (+ bias).
template <typename T>
void transform_output(const T* products, int64_t point_stride, const Tiling& g, int64_t f,
                      int64_t t0, int64_t t1, const T* bias, T* y, Scratch<T>& sc) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  constexpr int64_t W = S::kWidth;
  const V b = S::broadcast(bias ? bias[f] : T(0));
  const int64_t nt = t1 - t0, np = (nt + W - 1) / W * W;
  T* out = Scratch<T>::at_least(sc.points, 4 * np);  // y00, y01, y10, y11 of each tile
  for (int64_t t = 0; t < np; t += W) {
    V r[2][4];
    for (int j = 0; j < 4; ++j) {
      const T* m = products + t + j * point_stride;
      const V m0 = S::load(m), m1 = S::load(m + 4 * point_stride), m2 = S::load(m + 8 * point_stride),
              m3 = S::load(m + 12 * point_stride);
      r[0][j] = S::add(S::add(m0, m1), m2);
      r[1][j] = S::sub(S::sub(m1, m2), m3);
    }
    for (int i = 0; i < 2; ++i) {
      S::store(out + (2 * i) * np + t, S::add(S::add(S::add(r[i][0], r[i][1]), r[i][2]), b));
      S::store(out + (2 * i + 1) * np + t, S::add(S::sub(S::sub(r[i][1], r[i][2]), r[i][3]), b));
    }
  }
  for_each_row_run(g, t0, t1, [&](int64_t image, int64_t oy, int64_t ox, int64_t first, int64_t count) {
    T* plane = y + (image * g.k + f) * g.p * g.q;
    const int64_t columns = std::min(2 * count, g.q - ox);
    for (int i = 0; i < 2 && oy + i < g.p; ++i) {
      T* row = plane + (oy + i) * g.q + ox;
      const T *even = out + 2 * i * np + first, *odd = even + np;
      for (int64_t t = 0; t < columns / 2; ++t) row[2 * t] = even[t], row[2 * t + 1] = odd[t];
      if (columns % 2) row[columns - 1] = even[columns / 2];
    }
  });
}

// U[xi] = G g G^T for every filter f and channel ch, packed as packed_gemm's left operand
// ([k x c] per point, u_size apart). g is w[f, ch], or for WeightLayout::Transposed w[ch, f]
// turned by 180 degrees. Vectorised across W channels: a packed panel holds MR filters side by
// side for each channel, so a panel's W channels of one point are MR * W consecutive values,
// assembled in a small buffer and copied out whole (scattering 16 values per filter and
// channel, with an index per element, cost more than ResNet-18's last-stage products at 64x64).
template <typename T>
void transform_filters(const T* w, WeightLayout layout, int64_t k, int64_t c, T* u, int64_t u_size,
                       int threads) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  using Packed = gemm::PrepackedA<T>;
  constexpr int64_t W = S::kWidth, MR = gemm::Blocking<T>::kMR, KC = gemm::Blocking<T>::kKC;
  const int64_t rows_padded = Packed::rows_padded(k), panels = rows_padded / MR;
  parallel_chunks(panels, 1, threads, [&](int64_t lo, int64_t hi) {
    T taps[9][W], points[kPoints][W], block[kPoints][W * MR];
    for (int64_t panel = lo; panel < hi; ++panel)
      for (int64_t slice = 0; slice < c; slice += KC) {
        const int64_t kc = std::min(KC, c - slice);
        for (int64_t c0 = slice; c0 < slice + kc; c0 += W) {
          const int64_t cw = std::min(W, slice + kc - c0);
          for (int64_t i = 0; i < MR; ++i) {
            const int64_t f = panel * MR + i;
            for (int64_t j = 0; j < W; ++j) {  // taps of filter f, channels c0 .. c0 + W
              if (f >= k || j >= cw) {
                for (int t = 0; t < 9; ++t) taps[t][j] = T(0);
              } else if (layout == WeightLayout::Transposed) {
                const T* src = w + ((c0 + j) * k + f) * 9;
                for (int t = 0; t < 9; ++t) taps[t][j] = src[8 - t];
              } else {
                const T* src = w + (f * c + c0 + j) * 9;
                for (int t = 0; t < 9; ++t) taps[t][j] = src[t];
              }
            }
            // t = G g (4 x 3), then t G^T (4 x 4); G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
            const V half = S::broadcast(T(0.5));
            V gt[4][3];
            for (int j = 0; j < 3; ++j) {
              const V g0 = S::load(taps[j]), g1 = S::load(taps[3 + j]), g2 = S::load(taps[6 + j]);
              gt[0][j] = g0;
              gt[1][j] = S::mul(S::add(S::add(g0, g1), g2), half);
              gt[2][j] = S::mul(S::add(S::sub(g0, g1), g2), half);
              gt[3][j] = g2;
            }
            for (int r = 0; r < 4; ++r) {
              const V a = gt[r][0], b = gt[r][1], d = gt[r][2];
              S::store(points[r * 4 + 0], a);
              S::store(points[r * 4 + 1], S::mul(S::add(S::add(a, b), d), half));
              S::store(points[r * 4 + 2], S::mul(S::add(S::sub(a, b), d), half));
              S::store(points[r * 4 + 3], d);
            }
            for (int xi = 0; xi < kPoints; ++xi)
              for (int64_t j = 0; j < W; ++j) block[xi][j * MR + i] = points[xi][j];
          }
          T* dst = u + slice * rows_padded + panel * MR * kc + (c0 - slice) * MR;
          for (int xi = 0; xi < kPoints; ++xi) simd::copy_short(block[xi], cw * MR, dst + xi * u_size);
        }
      }
  });
}

// Tiles per block of the forward pass: the block's transformed inputs and products (16 x
// (c + k) x tiles) near the size of L2 (1 MB per core here, 512 KB on Zen 3), in whole panels.
template <typename T>
int64_t block_tiles(int64_t c, int64_t k) {
  constexpr int64_t NR = gemm::Blocking<T>::kNR, kBudget = int64_t(192) << 10;  // elements
  return std::max<int64_t>(NR, kBudget / (kPoints * (c + k)) / NR * NR);
}
}  // namespace

bool applies(int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
             int64_t dilation_h, int64_t dilation_w, int64_t pad_h, int64_t pad_w) {
  return kernel_h == 3 && kernel_w == 3 && stride_h == 1 && stride_w == 1 && dilation_h == 1 &&
         dilation_w == 1 && pad_h <= 2 && pad_w <= 2;
}

// Work is cut into (block of tiles, range of filters) items taken dynamically, each done start
// to finish by one thread in its own buffers: transform the block's input, 16 products with the
// transformed filters (packed once, read in place), transform back. Filters are split only when
// there are too few blocks to share (ResNet-18's last stage at 64x64 has 32 tiles), at the price
// of transforming the block's input once per range.
template <typename T>
void forward(const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t c, int64_t h,
             int64_t width, int64_t k, int64_t pad_h, int64_t pad_w, WeightLayout layout, int threads) {
  using Packed = gemm::PrepackedA<T>;
  using PackedB = gemm::PrepackedB<T>;
  constexpr int64_t MR = gemm::Blocking<T>::kMR, NR = gemm::Blocking<T>::kNR;
  const Tiling g = tiling(n, c, h, width, k, pad_h, pad_w);
  const int64_t u_size = Packed::size(k, c);  // per point: U[xi] = G g G^T, [k x c], packed
  std::vector<T> u(size_t(kPoints * u_size), T(0));
  transform_filters(w, layout, k, c, u.data(), u_size, threads);
  const int64_t tiles = g.rows() * g.tiles_x, per_block = block_tiles<T>(c, k);
  const int64_t blocks = (tiles + per_block - 1) / per_block, panels = (k + MR - 1) / MR;
  const int64_t wanted = threads > 1 ? 2 * int64_t(threads) : 1;
  const int64_t filter_parts = std::clamp<int64_t>((wanted + blocks - 1) / blocks, 1, panels);
  auto item = [&](int64_t i) {
    thread_local std::vector<T> v, m;
    thread_local Scratch<T> sc;
    const int64_t t0 = i / filter_parts * per_block, t1 = std::min(tiles, t0 + per_block), nt = t1 - t0;
    const int64_t part = i % filter_parts;
    const int64_t f0 = panels * part / filter_parts * MR, f1 = std::min(k, panels * (part + 1) / filter_parts * MR);
    const int64_t v_size = PackedB::size(c, nt);  // per point: V[xi] [c x nt], packed
    if (v.size() < size_t(kPoints * v_size)) v.resize(size_t(kPoints * v_size));
    // (+ a vector: transform_output reads whole vectors past the last tile)
    if (m.size() < size_t(kPoints * (f1 - f0) * nt + Scratch<T>::W)) m.resize(size_t(kPoints * (f1 - f0) * nt + Scratch<T>::W));
    for (int64_t ch = 0; ch < c; ++ch)  // V[xi], written in the GEMM's packed order: runs
      transform_input(x, g, ch, t0, t1, [&](int xi, int64_t first, int64_t count, const T* values) {
        T* panel = v.data() + xi * v_size;  // of one tile row split at panel boundaries
        for (int64_t i = 0; i < count;) {
          const int64_t t = first + i, run = std::min(count - i, NR - t % NR);
          simd::copy_short(values + i, run, panel + PackedB::index(ch, t, c, nt));
          i += run;
        }
      }, sc);
    for (int xi = 0; xi < kPoints; ++xi)  // M[xi] = U[xi] V[xi]: [f1 - f0, c] x [c, nt]
      gemm::packed_gemm<T>(f1 - f0, nt, c, T(1), Packed{u.data() + xi * u_size, k, c, f0},
                           PackedB{v.data() + xi * v_size, c, nt}, T(0),
                           gemm::Output<T>{m.data() + xi * (f1 - f0) * nt, nt}, 1);
    for (int64_t f = f0; f < f1; ++f)
      transform_output(m.data() + (f - f0) * nt, (f1 - f0) * nt, g, f, t0, t1, bias, y, sc);
  };
  const int64_t items = blocks * filter_parts;
  if (threads <= 1 || items == 1) {
    for (int64_t i = 0; i < items; ++i) item(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t i = 0; i < items; ++i) item(i);
}

// The filter gradient works channels-last: the images of a chunk are first transposed to
// [image][row][column][channel], so that both transforms run W channels per vector with plain
// loads and write each tile's points as contiguous rows, V[xi] [tiles x c] and Z[xi] [tiles x
// k]; the 16 products dU[xi] += Z[xi]^T V[xi] then pack both operands by copying rows. (The
// NCHW version vectorised across tiles and packed V^T by gathering: 63% of its product's time
// went to the gathers, 35% to arithmetic; see the commit.)
//
// Channels are padded to whole vectors (the padding is zeros and never reaches a product).
// Chunks are whole images, fixed by the shape; their sums are added in order.
template <typename T>
struct ChannelsLast {
  static constexpr int64_t W = simd::Vec<T>::kWidth;
  static int64_t padded(int64_t channels) { return (channels + W - 1) / W * W; }
  // out[(image * h + row) * w + column][padded(c)] from x[image][c][row][column], images
  // [0, n) of x, threads over (image, row).
  static void transpose(const T* x, int64_t n, int64_t c, int64_t h, int64_t w, T* out, int threads) {
    const int64_t cp = padded(c);
    parallel_chunks(n * h, 1, threads, [&](int64_t lo, int64_t hi) {
      for (int64_t line = lo; line < hi; ++line) {
        const int64_t image = line / h, row = line % h;
        T* dst = out + line * w * cp;
        for (int64_t ch = 0; ch < c; ++ch) {
          const T* src = x + ((image * c + ch) * h + row) * w;
          for (int64_t col = 0; col < w; ++col) dst[col * cp + ch] = src[col];
        }
        for (int64_t col = 0; col < w; ++col)
          for (int64_t ch = c; ch < cp; ++ch) dst[col * cp + ch] = T(0);
      }
    });
  }
};

// V[xi] of tile (image, ty, tx), all channels: B^T d B as transform_input computes it, from
// channels-last input xt (cp channels a pixel); zeros stands for pixels in the padding.
template <typename T>
void transform_input_tile(const T* xt, const Tiling& g, int64_t cp, int64_t image, int64_t ty,
                          int64_t tx, const T* zeros, T* v, int64_t point_stride) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  const T* pixel[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t ih = 2 * ty - g.pad_h + i, iw = 2 * tx - g.pad_w + j;
      pixel[i][j] = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? xt + ((image * g.h + ih) * g.w + iw) * cp : zeros;
    }
  for (int64_t ch = 0; ch < cp; ch += S::kWidth) {
    V r[4][4];  // B^T d, then (B^T d) B
    for (int j = 0; j < 4; ++j) {
      const V d0 = S::load(pixel[0][j] + ch), d1 = S::load(pixel[1][j] + ch), d2 = S::load(pixel[2][j] + ch),
              d3 = S::load(pixel[3][j] + ch);
      r[0][j] = S::sub(d0, d2);
      r[1][j] = S::add(d1, d2);
      r[2][j] = S::sub(d2, d1);
      r[3][j] = S::sub(d1, d3);
    }
    for (int i = 0; i < 4; ++i) {
      S::store(v + (i * 4 + 0) * point_stride + ch, S::sub(r[i][0], r[i][2]));
      S::store(v + (i * 4 + 1) * point_stride + ch, S::add(r[i][1], r[i][2]));
      S::store(v + (i * 4 + 2) * point_stride + ch, S::sub(r[i][2], r[i][1]));
      S::store(v + (i * 4 + 3) * point_stride + ch, S::sub(r[i][1], r[i][3]));
    }
  }
}

// Z[xi] = A dy A^T of tile (image, ty, tx), all filters, A = [1 0; 1 1; 1 -1; 0 -1], from
// channels-last dyt (kp filters a pixel); zeros for outputs past the edge.
template <typename T>
void transform_gradient_tile(const T* dyt, const Tiling& g, int64_t kp, int64_t image, int64_t ty,
                             int64_t tx, const T* zeros, T* z, int64_t point_stride) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  const T* pixel[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      const int64_t oy = 2 * ty + i, ox = 2 * tx + j;
      pixel[i][j] = oy < g.p && ox < g.q ? dyt + ((image * g.p + oy) * g.q + ox) * kp : zeros;
    }
  const V zero = S::zero();
  for (int64_t f = 0; f < kp; f += S::kWidth) {
    const V y00 = S::load(pixel[0][0] + f), y01 = S::load(pixel[0][1] + f), y10 = S::load(pixel[1][0] + f),
            y11 = S::load(pixel[1][1] + f);
    // Rows of A dy: dy0, dy0 + dy1, dy0 - dy1, -dy1; then the same along the columns.
    const V r[4][2] = {{y00, y01}, {S::add(y00, y10), S::add(y01, y11)}, {S::sub(y00, y10), S::sub(y01, y11)},
                       {S::sub(zero, y10), S::sub(zero, y11)}};
    for (int i = 0; i < 4; ++i) {
      S::store(z + (i * 4 + 0) * point_stride + f, r[i][0]);
      S::store(z + (i * 4 + 1) * point_stride + f, S::add(r[i][0], r[i][1]));
      S::store(z + (i * 4 + 2) * point_stride + f, S::sub(r[i][0], r[i][1]));
      S::store(z + (i * 4 + 3) * point_stride + f, S::sub(zero, r[i][1]));
    }
  }
}

// Per chunk of images: transpose x and dy to channels-last (threads over rows), transform
// every tile (threads over tiles), then 16 products (threads over the 16) adding into dU[xi]
// [k x c]; finally dg = G^T dU G per filter and channel.
template <typename T>
void backward_filter(const T* dy, const T* x, T* dw, int64_t n, int64_t c, int64_t h,
                     int64_t width, int64_t k, int64_t pad_h, int64_t pad_w, int threads) {
  using CL = ChannelsLast<T>;
  const Tiling g = tiling(n, c, h, width, k, pad_h, pad_w);
  const int64_t cp = CL::padded(c), kp = CL::padded(k), image_tiles = g.tiles_y * g.tiles_x;
  // Images per chunk: the chunk's transformed tiles, 16 x tiles x (c + k) values, near 4 MB
  // of floats (in L3; an image of ResNet-18's first stage at 224x224 alone is 6.4 MB).
  constexpr int64_t kBudget = int64_t(1) << 20;  // elements
  const int64_t chunk = std::clamp<int64_t>(kBudget / (kPoints * image_tiles * (cp + kp)), 1, n);
  const int64_t tiles = chunk * image_tiles;
  thread_local std::unique_ptr<T[]> buffer;
  thread_local size_t capacity = 0;
  const int64_t xt_size = chunk * h * width * cp, dyt_size = chunk * g.p * g.q * kp;
  const int64_t v_size = tiles * cp, z_size = tiles * kp;  // per point
  T* xt = gemm::scratch(buffer, capacity, size_t(xt_size + dyt_size + kPoints * (v_size + z_size) + std::max(cp, kp)));
  T *dyt = xt + xt_size, *v = dyt + dyt_size, *z = v + kPoints * v_size, *zeros = z + kPoints * z_size;
  std::fill(zeros, zeros + std::max(cp, kp), T(0));
  // dU[xi], written whole by the first chunk's products (beta 0): not zeroed first.
  const std::unique_ptr<T[]> du(new T[size_t(kPoints * k * c)]);
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    const int64_t images = std::min(chunk, n - n0), nt = images * image_tiles;
    CL::transpose(x + n0 * c * h * width, images, c, h, width, xt, threads);
    CL::transpose(dy + n0 * k * g.p * g.q, images, k, g.p, g.q, dyt, threads);
    // Tiles are independent: small pieces, so that ResNet-18's last stage (32 tiles) is shared.
    parallel_chunks(nt, std::clamp<int64_t>(nt / (4 * threads), 1, 64), threads, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t image = t / image_tiles, ty = t % image_tiles / g.tiles_x, tx = t % g.tiles_x;
        transform_input_tile(xt, g, cp, image, ty, tx, zeros, v + t * cp, v_size);
        transform_gradient_tile(dyt, g, kp, image, ty, tx, zeros, z + t * kp, z_size);
      }
    });
    const T beta = n0 == 0 ? T(0) : T(1);
    parallel_chunks(kPoints, 1, threads, [&](int64_t lo, int64_t hi) {
      for (int64_t xi = lo; xi < hi; ++xi)  // dU[xi] [k x c] (+)= Z[xi]^T [k x nt] V[xi] [nt x c]
        gemm::packed_gemm<T>(k, c, nt, T(1), gemm::PackStridedA<T>{{z + xi * z_size, 1, kp}},
                             gemm::PackStridedB<T>{{v + xi * v_size, cp, 1}}, beta,
                             gemm::Output<T>{du.get() + xi * k * c, c}, 1);
    });
  }
  constexpr int64_t W = simd::Vec<T>::kWidth;
  parallel_chunks(k, 1, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t f = lo; f < hi; ++f)
      for (int64_t ch = 0; ch < c; ch += W)
        filter_gradient_transform(du.get() + f * c + ch, k * c, std::min(W, c - ch), dw + (f * c + ch) * 9);
  });
}

template void forward<float>(const float*, const float*, const float*, float*, int64_t, int64_t,
                             int64_t, int64_t, int64_t, int64_t, int64_t, WeightLayout, int);
template void forward<double>(const double*, const double*, const double*, double*, int64_t,
                              int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, WeightLayout, int);
template void backward_filter<float>(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                     int64_t, int64_t, int64_t, int64_t, int);
template void backward_filter<double>(const double*, const double*, double*, int64_t, int64_t,
                                      int64_t, int64_t, int64_t, int64_t, int64_t, int);

}  // namespace nnlab::cpu::winograd
