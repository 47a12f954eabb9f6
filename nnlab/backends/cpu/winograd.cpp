// F(2x2, 3x3) on the packed GEMM (nnlab/backends/cpu/winograd.h says what and why). Tiles are numbered
// across the batch, row by row of tiles; transforms run along a tile row over deinterleaved
// (even, odd) input columns, so that they vectorise across tiles. Every transform is a fixed
// sequence of additions and the GEMMs reduce in a fixed order, so results do not depend on the
// thread count; the filter gradient adds its chunks of tiles in order, chunks fixed by shape.
#include "nnlab/backends/cpu/winograd.h"

#include <algorithm>
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






// dg = G^T du G: the 3x3 filter gradient from its transformed 4x4 sum.
template <typename T>
void filter_gradient_transform(const T du[kPoints], T* dg) {
  T t[3][4];
  for (int j = 0; j < 4; ++j) {
    const T d0 = du[j], d1 = du[4 + j], d2 = du[8 + j], d3 = du[12 + j];
    t[0][j] = d0 + (d1 + d2) * T(0.5);
    t[1][j] = (d1 - d2) * T(0.5);
    t[2][j] = (d1 + d2) * T(0.5) + d3;
  }
  for (int i = 0; i < 3; ++i) {
    dg[i * 3 + 0] = t[i][0] + (t[i][1] + t[i][2]) * T(0.5);
    dg[i * 3 + 1] = (t[i][1] - t[i][2]) * T(0.5);
    dg[i * 3 + 2] = (t[i][1] + t[i][2]) * T(0.5) + t[i][3];
  }
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
      const T* line = ih >= 0 && ih < g.h ? plane + ih * g.w : nullptr;
      T *e = even + i * stride + r * pr.width, *o = odd + i * stride + r * pr.width;
      for (int64_t m = 0; m < pr.width; ++m) {
        const int64_t ec = 2 * m - g.pad_w, oc = ec + 1;
        e[m] = line && ec >= 0 && ec < g.w ? line[ec] : T(0);
        o[m] = line && oc >= 0 && oc < g.w ? line[oc] : T(0);
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

// The gradient transform of filter f's output gradient over tiles [t0, t1), Z = A dy A^T with
// A = [1 0; 1 1; 1 -1; 0 -1]; emit(xi, values) stores point xi of the nt tiles.
template <typename T, typename Emit>
void transform_gradient(const T* dy, const Tiling& g, int64_t f, int64_t t0, int64_t t1, Emit emit,
                        Scratch<T>& sc) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  constexpr int64_t W = S::kWidth;
  const int64_t nt = t1 - t0, np = (nt + W - 1) / W * W;
  T* tile = Scratch<T>::at_least(sc.even, 4 * np);  // dy00, dy01, dy10, dy11 of each tile
  for_each_row_run(g, t0, t1, [&](int64_t image, int64_t oy, int64_t ox, int64_t first, int64_t count) {
    const T* plane = dy + (image * g.k + f) * g.p * g.q;
    for (int i = 0; i < 2; ++i) {
      T *even = tile + 2 * i * np + first, *odd = even + np;
      const T* row = oy + i < g.p ? plane + (oy + i) * g.q + ox : nullptr;
      const int64_t columns = row ? std::min(2 * count, g.q - ox) : 0;
      for (int64_t t = 0; t < count; ++t) {
        even[t] = 2 * t < columns ? row[2 * t] : T(0);
        odd[t] = 2 * t + 1 < columns ? row[2 * t + 1] : T(0);
      }
    }
  });
  T* z = Scratch<T>::at_least(sc.points, kPoints * np);
  const V zero = S::zero();
  for (int64_t t = 0; t < np; t += W) {
    const V e0 = S::load(tile + t), o0 = S::load(tile + np + t), e1 = S::load(tile + 2 * np + t),
            o1 = S::load(tile + 3 * np + t);
    // Rows of A dy: dy0, dy0 + dy1, dy0 - dy1, -dy1; then the same along the columns.
    const V r[4][2] = {{e0, o0}, {S::add(e0, e1), S::add(o0, o1)}, {S::sub(e0, e1), S::sub(o0, o1)},
                       {S::sub(zero, e1), S::sub(zero, o1)}};
    for (int i = 0; i < 4; ++i) {
      S::store(z + (i * 4 + 0) * np + t, r[i][0]);
      S::store(z + (i * 4 + 1) * np + t, S::add(r[i][0], r[i][1]));
      S::store(z + (i * 4 + 2) * np + t, S::sub(r[i][0], r[i][1]));
      S::store(z + (i * 4 + 3) * np + t, S::sub(zero, r[i][1]));
    }
  }
  for (int xi = 0; xi < kPoints; ++xi) emit(xi, z + xi * np);
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

// Chunks of tiles, fixed by the shape (their sums are added in order): per chunk, transform
// (threads over filters, then channels), then 16 products (threads over the 16) adding into
// dU[xi] [k x c]; finally dg = G^T dU G per filter and channel.
template <typename T>
void backward_filter(const T* dy, const T* x, T* dw, int64_t n, int64_t c, int64_t h,
                     int64_t width, int64_t k, int64_t pad_h, int64_t pad_w, int threads) {
  using Packed = gemm::PrepackedA<T>;
  constexpr int64_t MR = gemm::Blocking<T>::kMR, KC = gemm::Blocking<T>::kKC;
  const Tiling g = tiling(n, c, h, width, k, pad_h, pad_w);
  const int64_t tiles = g.rows() * g.tiles_x;
  const int64_t chunk = std::min(tiles, std::max<int64_t>(256, (int64_t(1) << 21) / (kPoints * (c + k))));
  const int64_t z_size = Packed::size(k, chunk);
  // Z[xi] = A dy A^T, [k x tiles] packed; V[xi] [c x tiles], read transposed (packing B
  // transposes it into L1-sized panels, where scattering V^T into a buffer of MBs stalled on
  // every store: 63% of the transform's time); dU[xi] [k x c].
  std::vector<T> z(size_t(kPoints * z_size), T(0)), v(size_t(kPoints * c * chunk)),
      du(size_t(kPoints * k * c));
  for (int64_t t0 = 0; t0 < tiles; t0 += chunk) {
    const int64_t t1 = std::min(tiles, t0 + chunk), nt = t1 - t0;
    parallel_chunks(k, 1, threads, [&](int64_t lo, int64_t hi) {
      thread_local Scratch<T> sc;
      for (int64_t f = lo; f < hi; ++f)
        transform_gradient(dy, g, f, t0, t1, [&](int xi, const T* values) {
          T* panel = z.data() + xi * z_size;
          for (int64_t t = 0; t < nt;) {  // runs within one KC slice are MR apart
            const int64_t run = std::min(nt - t, KC - t % KC);
            T* dst = panel + Packed::index(f, t, k, nt);
            for (int64_t j = 0; j < run; ++j) dst[j * MR] = values[t + j];
            t += run;
          }
        }, sc);
    });
    parallel_chunks(c, 1, threads, [&](int64_t lo, int64_t hi) {
      thread_local Scratch<T> sc;
      for (int64_t ch = lo; ch < hi; ++ch)
        transform_input(x, g, ch, t0, t1, [&](int xi, int64_t first, int64_t count, const T* values) {
          simd::copy_short(values, count, v.data() + (xi * c + ch) * nt + first);
        }, sc);
    });
    const T beta = t0 == 0 ? T(0) : T(1);
    parallel_chunks(kPoints, 1, threads, [&](int64_t lo, int64_t hi) {
      for (int64_t xi = lo; xi < hi; ++xi)
        gemm::packed_gemm<T>(k, c, nt, T(1), Packed{z.data() + xi * z_size, k, nt},
                             gemm::PackStridedB<T>{{v.data() + xi * c * nt, 1, nt}}, beta,
                             gemm::Output<T>{du.data() + xi * k * c, c}, 1);
    });
  }
  parallel_chunks(k, 1, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t f = lo; f < hi; ++f)
      for (int64_t ch = 0; ch < c; ++ch) {
        T dut[kPoints];
        for (int xi = 0; xi < kPoints; ++xi) dut[xi] = du[size_t((xi * k + f) * c + ch)];
        filter_gradient_transform(dut, dw + (f * c + ch) * 9);
      }
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
