// F(2x2, 3x3) on the packed GEMM (nnlab/backends/cpu/winograd.h says what and why), channels-
// last: the images of a chunk are first transposed to [image][row][column][channel], so that
// every transform runs W channels (or filters) per vector with plain loads, and writes a tile's
// 16 points as contiguous rows of V[xi] [tiles x c] (and Z[xi] [tiles x k] for the filter
// gradient), which the products then pack by copying rows. (The NCHW version vectorised across
// tiles: it split input rows into even and odd columns, and packed V^T for the filter gradient
// by gathering, 63% of that product's time; see the commits.)
//
// Channels are padded to whole vectors (the padding is zeros and never reaches a stored
// result). Every transform is a fixed sequence of additions and the products reduce in a fixed
// order, so results do not depend on the thread count; chunks are whole images, and the filter
// gradient's are fixed by the shape and its chunks' sums added in order (the forward's also
// depend on the thread count: each output is one tile's, whatever chunk holds it).
#include "nnlab/backends/cpu/winograd.h"

#include <algorithm>
#include <memory>

#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/packed_gemm.h"
#include "nnlab/backends/cpu/simd.h"

namespace nnlab::cpu::winograd {
namespace {
constexpr int kPoints = 16;  // elements of a transformed 4x4 tile, one GEMM each

struct Tiling {
  int64_t n, c, h, w, k, pad_h, pad_w, p, q, tiles_y, tiles_x;
  int64_t image_tiles() const { return tiles_y * tiles_x; }
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

template <typename T>
struct ChannelsLast {
  static constexpr int64_t W = simd::Vec<T>::kWidth;
  static int64_t padded(int64_t channels) { return (channels + W - 1) / W * W; }
  // out[(image * h + row) * w + column][padded(c)] from x[image][c][row][column], images
  // [0, n) of x, threads over (image, row): W channels of a pixel per gather (element by
  // element, the transpose was 10% of the first stage's forward at 224x224).
  static void transpose(const T* x, int64_t n, int64_t c, int64_t h, int64_t w, T* out, int threads) {
    using S = simd::Vec<T>;
    const int64_t cp = padded(c), plane = h * w, whole = c / W * W;
    parallel_chunks(n * h, 1, threads, [&](int64_t lo, int64_t hi) {
      for (int64_t line = lo; line < hi; ++line) {
        const int64_t image = line / h, row = line % h;
        const T* src = x + image * c * plane + row * w;
        T* dst = out + line * w * cp;
        for (int64_t col = 0; col < w; ++col)
          for (int64_t ch = 0; ch < whole; ch += W) S::store(dst + col * cp + ch, S::gather(src + ch * plane + col, int(plane)));
        for (int64_t col = 0; col < w; ++col)
          for (int64_t ch = whole; ch < cp; ++ch) dst[col * cp + ch] = ch < c ? src[ch * plane + col] : T(0);
      }
    });
  }
};

// Images per chunk: the chunk's transformed tiles, 16 x tiles x (c + k) values, near 4 MB of
// floats (in L3; one image of ResNet-18's first stage at 224x224 alone is 6.4 MB).
int64_t images_per_chunk(const Tiling& g, int64_t cp, int64_t kp) {
  constexpr int64_t kBudget = int64_t(1) << 20;  // elements
  return std::clamp<int64_t>(kBudget / (kPoints * g.image_tiles() * (cp + kp)), 1, g.n);
}

// Work split among threads over a chunk's tiles (each independent): small pieces, so that
// ResNet-18's last stage at 64x64 (32 tiles) is shared.
int64_t tile_grain(int64_t tiles, int threads) { return std::clamp<int64_t>(tiles / (4 * threads), 1, 64); }

// One thread's scratch, reused from call to call (growing only): the pages of a training
// step's buffers are faulted in once. Use Shared for what the calling thread allocates for all
// threads, while it also takes work of its own from scratch<T>().
struct Own {};
struct Shared {};
template <typename T, typename Use = Own>
T* scratch(size_t elements) {
  thread_local gemm::ScratchBuffer<T> buffer;
  return buffer.at_least(elements);
}

// The points [lo, hi) of a transformed tile that a transform stores (the rest are another
// thread's).
struct Points {
  int lo = 0, hi = kPoints;
  bool has(int xi) const { return xi >= lo && xi < hi; }
};

// Pixel (row, column) of `image` in channels-last t (rows x columns pixels an image, `channels`
// values a pixel), or `zeros` outside the image.
template <typename T>
const T* pixel_at(const T* t, int64_t rows, int64_t columns, int64_t channels, int64_t image, int64_t row,
                  int64_t column, const T* zeros) {
  const bool inside = row >= 0 && row < rows && column >= 0 && column < columns;
  return inside ? t + ((image * rows + row) * columns + column) * channels : zeros;
}

// V[xi] = B^T d B of tile (image, ty, tx), all channels, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
// 0 1 0 -1], from channels-last input xt (cp channels a pixel), points `points` stored; zeros
// stands for pixels in the padding.
template <typename T>
void transform_input_tile(const T* xt, const Tiling& g, int64_t cp, int64_t image, int64_t ty,
                          int64_t tx, const T* zeros, T* v, int64_t point_stride, Points points = {}) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  const T* pixel[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      pixel[i][j] = pixel_at(xt, g.h, g.w, cp, image, 2 * ty - g.pad_h + i, 2 * tx - g.pad_w + j, zeros);
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
      const V point[4] = {S::sub(r[i][0], r[i][2]), S::add(r[i][1], r[i][2]), S::sub(r[i][2], r[i][1]),
                          S::sub(r[i][1], r[i][3])};
      for (int j = 0; j < 4; ++j)
        if (points.has(i * 4 + j)) S::store(v + (i * 4 + j) * point_stride + ch, point[j]);
    }
  }
}

// Z[xi] = A dy A^T of tile (image, ty, tx), all filters, A = [1 0; 1 1; 1 -1; 0 -1], from
// channels-last dyt (kp filters a pixel), points `points` stored; zeros for outputs past the
// edge.
template <typename T>
void transform_gradient_tile(const T* dyt, const Tiling& g, int64_t kp, int64_t image, int64_t ty,
                             int64_t tx, const T* zeros, T* z, int64_t point_stride, Points points = {}) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  const T* pixel[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) pixel[i][j] = pixel_at(dyt, g.p, g.q, kp, image, 2 * ty + i, 2 * tx + j, zeros);
  const V zero = S::zero();
  for (int64_t f = 0; f < kp; f += S::kWidth) {
    const V y00 = S::load(pixel[0][0] + f), y01 = S::load(pixel[0][1] + f), y10 = S::load(pixel[1][0] + f),
            y11 = S::load(pixel[1][1] + f);
    // Rows of A dy: dy0, dy0 + dy1, dy0 - dy1, -dy1; then the same along the columns.
    const V r[4][2] = {{y00, y01}, {S::add(y00, y10), S::add(y01, y11)}, {S::sub(y00, y10), S::sub(y01, y11)},
                       {S::sub(zero, y10), S::sub(zero, y11)}};
    for (int i = 0; i < 4; ++i) {
      const V point[4] = {r[i][0], S::add(r[i][0], r[i][1]), S::sub(r[i][0], r[i][1]), S::sub(zero, r[i][1])};
      for (int j = 0; j < 4; ++j)
        if (points.has(i * 4 + j)) S::store(z + (i * 4 + j) * point_stride + f, point[j]);
    }
  }
}

// y = A^T m A of tile (image, ty, tx), A^T = [1 1 1 0; 0 1 -1 -1], W filters per vector: point
// xi of filter f at m[xi * point_stride + f] (kp filters, zeros past k), bias padded to kp;
// the tile's outputs inside the image written to NCHW y.
template <typename T>
void transform_output_tile(const T* m, int64_t point_stride, const Tiling& g, int64_t kp, int64_t image,
                           int64_t ty, int64_t tx, const T* bias, T* y) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  constexpr int64_t W = S::kWidth;
  const int64_t oy = 2 * ty, ox = 2 * tx, rows = std::min<int64_t>(2, g.p - oy), cols = std::min<int64_t>(2, g.q - ox);
  const int64_t plane = g.p * g.q;
  T* out = y + image * g.k * plane + oy * g.q + ox;
  alignas(64) T pixels[4][W];  // y00, y01, y10, y11 of W filters
  for (int64_t f = 0; f < kp; f += W) {
    V r[2][4];
    for (int j = 0; j < 4; ++j) {
      const T* mj = m + j * point_stride + f;
      const V m0 = S::load(mj), m1 = S::load(mj + 4 * point_stride), m2 = S::load(mj + 8 * point_stride),
              m3 = S::load(mj + 12 * point_stride);
      r[0][j] = S::add(S::add(m0, m1), m2);
      r[1][j] = S::sub(S::sub(m1, m2), m3);
    }
    const V b = S::load(bias + f);
    for (int i = 0; i < 2; ++i) {
      S::store(pixels[2 * i], S::add(S::add(S::add(r[i][0], r[i][1]), r[i][2]), b));
      S::store(pixels[2 * i + 1], S::add(S::sub(S::sub(r[i][1], r[i][2]), r[i][3]), b));
    }
    const int64_t filters = std::min(W, g.k - f);
    for (int64_t j = 0; j < filters; ++j) {
      T* o = out + (f + j) * plane;
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t jj = 0; jj < cols; ++jj) o[i * g.q + jj] = pixels[2 * i + jj][j];
    }
  }
}

// U[xi]^T = (G g G^T)^T for every channel ch and filter f, packed as packed_gemm's right
// operand ([c x k] per point, u_size apart; filters past k zero). g is w[f, ch], or for
// WeightLayout::Transposed w[ch, f] turned by 180 degrees. Vectorised across W filters of one
// channel, whose transformed points are W consecutive values of a packed row: each tap is one
// gather, each point one store. (Vectorised across channels, the taps were gathered and the
// points scattered element by element: 40% of the last stage's forward at 64x64.)
//
// Panels [lo, hi) of NR filters, into u as the packed matrices of filters [first * NR,
// first * NR + columns) (panel p at (p - first) * NR): the whole U^T (first 0, columns
// padded k), or one group of panels.
template <typename T>
void transform_filter_panels(const T* w, WeightLayout layout, int64_t k, int64_t c, int64_t lo, int64_t hi,
                             int64_t first, int64_t columns, T* u, int64_t u_size) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  constexpr int64_t W = S::kWidth, NR = gemm::Blocking<T>::kNR, KC = gemm::Blocking<T>::kKC;
  // Tap t of filters f0 .. f0 + W at channel ch, and the distance from one filter to the next.
  const bool transposed = layout == WeightLayout::Transposed;
  const int64_t filter_stride = transposed ? 9 : c * 9;
  auto tap = [&](int64_t f0, int64_t ch, int t) {
    return transposed ? w + (ch * k + f0) * 9 + (8 - t) : w + (f0 * c + ch) * 9 + t;
  };
  const V half = S::broadcast(T(0.5));
  for (int64_t panel = lo; panel < hi; ++panel)
    for (int64_t f0 = panel * NR; f0 < (panel + 1) * NR; f0 += W) {
      const int64_t filters = std::clamp<int64_t>(k - f0, 0, W);
      for (int64_t slice = 0; slice < c; slice += KC) {
        const int64_t kc = std::min(KC, c - slice);
        T* dst = u + slice * columns + (panel - first) * NR * kc + (f0 - panel * NR);
        for (int64_t ch = slice; ch < slice + kc; ++ch, dst += NR) {
          V g[9];
          if (filters == W) {
            for (int t = 0; t < 9; ++t) g[t] = S::gather(tap(f0, ch, t), int(filter_stride));
          } else {  // the last filters: lanes past k are zero
            alignas(64) T lanes[W];
            for (int t = 0; t < 9; ++t) {
              for (int64_t j = 0; j < W; ++j) lanes[j] = j < filters ? *tap(f0 + j, ch, t) : T(0);
              g[t] = S::load(lanes);
            }
          }
          // t = G g (4 x 3), then t G^T (4 x 4); G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
          V gt[4][3];
          for (int j = 0; j < 3; ++j) {
            const V g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
            gt[0][j] = g0;
            gt[1][j] = S::mul(S::add(S::add(g0, g1), g2), half);
            gt[2][j] = S::mul(S::add(S::sub(g0, g1), g2), half);
            gt[3][j] = g2;
          }
          for (int r = 0; r < 4; ++r) {
            const V a = gt[r][0], b = gt[r][1], d = gt[r][2];
            T* row = dst + (r * 4) * u_size;
            S::store(row, a);
            S::store(row + u_size, S::mul(S::add(S::add(a, b), d), half));
            S::store(row + 2 * u_size, S::mul(S::add(S::sub(a, b), d), half));
            S::store(row + 3 * u_size, d);
          }
        }
      }
    }
}

}  // namespace

bool applies(int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
             int64_t dilation_h, int64_t dilation_w, int64_t pad_h, int64_t pad_w) {
  return kernel_h == 3 && kernel_w == 3 && stride_h == 1 && stride_w == 1 && dilation_h == 1 &&
         dilation_w == 1 && pad_h <= 2 && pad_w <= 2;
}

// Transposes x to channels-last, transforms every tile into V[xi], multiplies M[xi] [tiles x
// k] = V[xi] U[xi]^T and transforms each tile back into y. The transformed filters U^T (16 c k
// values: 16 MB at ResNet-18's last stage) are made in one of two ways:
//  - several chunks of images: U^T once, whole (threads over filters); then each thread takes
//    whole chunks and does all of a chunk in its own buffers, so that no step reads what
//    another thread wrote (this project's VM has phases where a cache line takes 6x as long to
//    move between its two vCPUs, bench/core_round_trip.cpp: 330 ns, not 55, as between dies; in
//    them ResNet-18 64x64's forward and data gradients went 56 and 51 -> 43 ms a step);
//  - the batch in one chunk (few tiles: the late stages at 64x64): U^T never whole; the chunk's
//    transpose and transforms are shared (threads over rows, tiles), then threads take groups
//    of filters, transform the group's filters into their own buffer and multiply them at
//    once, so that U^T is not written to memory and read back (the last stage's forward at
//    64x64 batch 32, 2 threads: 5.3 -> 3.9 ms).
template <typename T>
void forward(const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t c, int64_t h,
             int64_t width, int64_t k, int64_t pad_h, int64_t pad_w, WeightLayout layout, int threads) {
  using CL = ChannelsLast<T>;
  using Packed = gemm::PrepackedB<T>;
  constexpr int64_t NR = gemm::Blocking<T>::kNR;
  const Tiling g = tiling(n, c, h, width, k, pad_h, pad_w);
  const int64_t cp = CL::padded(c), kp = CL::padded(k), image_tiles = g.image_tiles();
  // Forward results do not depend on the chunks (every output is its own tile's), so with
  // several, threads each hold a chunk of a thread's share of the budget.
  const int64_t budget_chunk = images_per_chunk(g, cp, kp);
  const bool whole_u = budget_chunk < n;
  const int64_t chunk = whole_u ? std::max<int64_t>(1, budget_chunk / threads) : n, tiles = chunk * image_tiles;
  const int64_t chunks = (n + chunk - 1) / chunk, panels = Packed::columns_padded(k) / NR;
  const int64_t u_size = whole_u ? Packed::size(c, kp) : 0;  // per point: U[xi]^T [c x kp], packed
  const int64_t xt_size = chunk * h * width * cp, v_size = tiles * cp, m_size = tiles * kp;  // per point
  T* u = scratch<T, Shared>(size_t(kPoints * u_size + cp + kp));
  T *zeros = u + kPoints * u_size, *bias_padded = zeros + cp;
  std::fill(zeros, zeros + cp, T(0));
  std::fill(bias_padded, bias_padded + kp, T(0));
  if (bias) std::copy_n(bias, k, bias_padded);
  // One thread's buffers for a chunk (from its own scratch): the images transposed, their
  // transformed tiles V and the products M.
  struct ChunkBuffers {
    T *xt, *v, *m;
  };
  auto chunk_buffers = [&] {
    T* xt = scratch<T>(size_t(xt_size + kPoints * (v_size + m_size)));
    return ChunkBuffers{xt, xt + xt_size, xt + xt_size + kPoints * v_size};
  };
  // Images [n0, n0 + images) transposed into xt and transformed into tiles v, and products m
  // transformed back into y, with `tile_threads` for the transpose and the transforms.
  auto input_tiles = [&](int64_t n0, int64_t images, T* xt, T* v, int tile_threads) {
    const int64_t nt = images * image_tiles;
    CL::transpose(x + n0 * c * h * width, images, c, h, width, xt, tile_threads);
    parallel_chunks(nt, tile_grain(nt, tile_threads), tile_threads, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t)
        transform_input_tile(xt, g, cp, t / image_tiles, t % image_tiles / g.tiles_x, t % g.tiles_x, zeros,
                             v + t * cp, v_size);
    });
  };
  // M[xi] [nt x kp] = V[xi] [nt x c] U[xi]^T [c x kp], columns [f0, f0 + columns).
  auto product = [&](int xi, int64_t nt, const T* v, const Packed& ut, int64_t f0, int64_t columns, T* m) {
    gemm::packed_gemm<T>(nt, columns, c, T(1), gemm::RowsA<T>{v + xi * v_size, cp}, ut, T(0),
                         gemm::Output<T>{m + xi * m_size + f0, kp}, 1);
  };
  auto output_tiles = [&](int64_t n0, int64_t images, const T* m, int tile_threads) {
    const int64_t nt = images * image_tiles;
    parallel_chunks(nt, tile_grain(nt, tile_threads), tile_threads, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t)
        transform_output_tile(m + t * kp, m_size, g, kp, n0 + t / image_tiles, t % image_tiles / g.tiles_x,
                              t % g.tiles_x, bias_padded, y);
    });
  };
  if (whole_u) {
    parallel_chunks(panels, 1, threads, [&](int64_t lo, int64_t hi) {
      transform_filter_panels(w, layout, k, c, lo, hi, 0, panels * NR, u, u_size);
    });
    parallel_items(chunks, threads, [&](int64_t index) {
      const int64_t n0 = index * chunk, images = std::min(chunk, n - n0), nt = images * image_tiles;
      const ChunkBuffers own = chunk_buffers();
      input_tiles(n0, images, own.xt, own.v, 1);
      for (int xi = 0; xi < kPoints; ++xi) product(xi, nt, own.v, Packed{u + xi * u_size, c, kp}, 0, kp, own.m);
      output_tiles(n0, images, own.m, 1);
    });
    return;
  }
  const ChunkBuffers whole = chunk_buffers();
  const int64_t nt = n * image_tiles;
  input_tiles(0, n, whole.xt, whole.v, threads);
  const int64_t per_group = std::max<int64_t>(1, panels / (4 * int64_t(threads)));
  parallel_chunks(panels, per_group, threads, [&](int64_t lo, int64_t hi) {
    const int64_t f0 = lo * NR, columns = std::min(kp, hi * NR) - f0, group_size = Packed::size(c, columns);
    thread_local gemm::ScratchBuffer<T> buffer;
    T* group = buffer.at_least(size_t(kPoints * group_size));
    transform_filter_panels(w, layout, k, c, lo, hi, lo, (hi - lo) * NR, group, group_size);
    for (int xi = 0; xi < kPoints; ++xi)
      product(xi, nt, whole.v, Packed{group + xi * group_size, c, columns}, f0, columns, whole.m);
  });
  output_tiles(0, n, whole.m, threads);
}

// Per chunk of images: transpose x and dy to channels-last (threads over rows), transform every
// tile, dU[xi] [k x c] (+)= Z[xi]^T V[xi], and dg = G^T dU G per filter and channel, in one of
// two ways:
//  - the batch in one chunk (the late stages at 64x64): tiles transformed with threads over
//    tiles; then threads take groups of filters, and multiply and transform their rows of dU at
//    once, in their own buffer (dU whole is 16 MB at the last stage, allocated at the step's
//    peak of memory);
//  - several chunks: threads take ranges of the 16 points, each transforming every tile into
//    its own points only and computing their products, which add into dU whole; the transform
//    at the end. (The transforms split by tiles, as before, had each thread multiply tiles half
//    of which the other wrote: ResNet-18 64x64's filter gradients took 61 ms a step in the VM's
//    phases of 330 ns core-to-core round trips, now 54; the same at 55 ns.)
template <typename T>
void backward_filter(const T* dy, const T* x, T* dw, int64_t n, int64_t c, int64_t h,
                     int64_t width, int64_t k, int64_t pad_h, int64_t pad_w, int threads) {
  using CL = ChannelsLast<T>;
  constexpr int64_t W = simd::Vec<T>::kWidth, MR = gemm::Blocking<T>::kMR;
  const Tiling g = tiling(n, c, h, width, k, pad_h, pad_w);
  const int64_t cp = CL::padded(c), kp = CL::padded(k), image_tiles = g.image_tiles();
  const int64_t chunk = images_per_chunk(g, cp, kp), tiles = chunk * image_tiles;
  const int64_t xt_size = chunk * h * width * cp, dyt_size = chunk * g.p * g.q * kp;
  const int64_t v_size = tiles * cp, z_size = tiles * kp;  // per point
  T* xt = scratch<T>(size_t(xt_size + dyt_size + kPoints * (v_size + z_size) + std::max(cp, kp)));
  T *dyt = xt + xt_size, *v = dyt + dyt_size, *z = v + kPoints * v_size, *zeros = z + kPoints * z_size;
  std::fill(zeros, zeros + std::max(cp, kp), T(0));
  // dU[xi] rows [f0, f0 + rows) (+)= Z[xi]^T V[xi] over the chunk's nt tiles, into du (rows x c
  // per point).
  auto products = [&](int64_t xi, int64_t f0, int64_t rows, int64_t nt, T beta, T* du) {
    gemm::packed_gemm<T>(rows, c, nt, T(1), gemm::PackStridedA<T>{{z + xi * z_size + f0, 1, kp}},
                         gemm::PackStridedB<T>{{v + xi * v_size, cp, 1}}, beta, gemm::Output<T>{du, c}, 1);
  };
  // dg of filters [f0, f0 + rows) from their dU: point xi of filter f0 + i at du[xi point_stride
  // + i c].
  auto transform = [&](const T* du, int64_t point_stride, int64_t f0, int64_t rows) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t ch = 0; ch < c; ch += W)
        filter_gradient_transform(du + i * c + ch, point_stride, std::min(W, c - ch), dw + ((f0 + i) * c + ch) * 9);
  };
  const std::unique_ptr<T[]> du(chunk < n ? new T[size_t(kPoints * k * c)] : nullptr);
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    const int64_t images = std::min(chunk, n - n0), nt = images * image_tiles;
    CL::transpose(x + n0 * c * h * width, images, c, h, width, xt, threads);
    CL::transpose(dy + n0 * k * g.p * g.q, images, k, g.p, g.q, dyt, threads);
    auto transform_tiles = [&](int64_t lo, int64_t hi, Points points) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t image = t / image_tiles, ty = t % image_tiles / g.tiles_x, tx = t % g.tiles_x;
        transform_input_tile(xt, g, cp, image, ty, tx, zeros, v + t * cp, v_size, points);
        transform_gradient_tile(dyt, g, kp, image, ty, tx, zeros, z + t * kp, z_size, points);
      }
    };
    if (!du) {  // one chunk
      parallel_chunks(nt, tile_grain(nt, threads), threads, [&](int64_t lo, int64_t hi) {
        transform_tiles(lo, hi, Points{});
      });
      const int64_t per_group = std::max<int64_t>(1, k / MR / (4 * int64_t(threads))) * MR;
      parallel_chunks(k, per_group, threads, [&](int64_t lo, int64_t hi) {
        thread_local gemm::ScratchBuffer<T> buffer;
        T* group = buffer.at_least(size_t(kPoints * per_group * c));
        for (int64_t xi = 0; xi < kPoints; ++xi) products(xi, lo, hi - lo, nt, T(0), group + xi * (hi - lo) * c);
        transform(group, (hi - lo) * c, lo, hi - lo);
      });
      return;
    }
    // Each thread transforms every tile but stores only the points whose products it then
    // computes, so that it multiplies only what it wrote itself (see forward()).
    parallel_ranges(kPoints, threads, [&](int64_t lo, int64_t hi) {
      transform_tiles(0, nt, Points{int(lo), int(hi)});
      // dU[xi] is written whole by the first chunk's products (beta 0): not zeroed first.
      for (int64_t xi = lo; xi < hi; ++xi) products(xi, 0, k, nt, n0 == 0 ? T(0) : T(1), du.get() + xi * k * c);
    });
  }
  parallel_chunks(k, 1, threads, [&](int64_t lo, int64_t hi) {
    transform(du.get() + lo * c, k * c, lo, hi - lo);
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
