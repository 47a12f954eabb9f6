// A BLIS-style packed GEMM, C = alpha * A B + beta * C, the cpu backend's matrix product and
// the core of its convolutions. The five loops of Goto and van de Geijn ("Anatomy of
// high-performance matrix multiplication", 2008) as BLIS arranges them:
//
//   for jc in N step NC            a column block of B and C
//     for pc in K step KC          pack B[pc:+KC, jc:+NC] into KC x NR micro-panels (L3)
//       for ic in M step MC        pack A[ic:+MC, pc:+KC] into MR x KC micro-panels (L2)
//         for jr in NC step NR     one B micro-panel stays in L1 ...
//           for ir in MC step MR   ... while A's micro-panels stream past it from L2
//             micro-kernel: an MR x NR tile of C in registers, KC rank-1 updates
//
// Packing copies each operand once per block into the order the micro-kernel reads it
// (contiguous, zero-padded to whole panels), so the kernel never sees a stride, a transpose or
// an edge. Operands are packers: any layout that can write a panel works (a strided matrix,
// an image read through im2col's index arithmetic), and C's columns may come in groups, so a
// convolution writes NCHW directly. (One exception: a row-major A whose rows are short and
// reused by few columns may be read in place, RowsA below.)
//
// Threads: C is cut into a few rectangles, taken dynamically; each thread runs the five loops
// over its rectangle with its own packed buffers. No barriers, and a thread slowed by other
// work on the machine leaves its next rectangle to the others. The price is that rectangles in
// one row of the grid each pack the same rows of A (and in one column the same B), kept small
// by keeping rectangles wide (split_for_threads).
//
// Determinism: every element of C is the same chain of fused multiply-adds in k order within
// each KC slice, slices added in order, whatever the thread count or the rectangle that
// computed it. KC is fixed per build.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "nnlab/backends/cpu/simd.h"

namespace nnlab::cpu::gemm {

// Register and cache blocking. MR x NR accumulators use 12 of AVX2's 16 vector registers
// (BLIS's Haswell/Zen kernel, 6 x 16 floats) and 12 of AVX-512's 32 (6 x 32 floats).
template <typename T>
struct Blocking {
  static constexpr int kWidth = simd::Vec<T>::kWidth;
  static constexpr int kMR = 6;
  static constexpr int kNV = 2;  // vectors per row of the micro-tile
  static constexpr int kNR = kNV * kWidth;
  static constexpr int64_t kKC = 256;                 // the slice of k: sets the rounding
  static constexpr int64_t kMC = 144;                 // rows of A per L2 block (a multiple of MR)
  static constexpr int64_t kNC = 4096 / kNR * kNR;    // columns of B per L3 block
};

// How the micro-kernel combines its tile with C: the first k slice scales or ignores C (beta
// 0 never reads it, so NaN in C does not propagate), later slices accumulate.
enum class Store { Overwrite, ScaleAdd, Accumulate };

// How the micro-kernel reads A's MR x kc panel: packed, element (i, p) at a[p MR + i], or MR
// rows of a row-major A read in place, element (i, p) at row[i][p] (RowsA below).
template <typename T>
struct PackedPanel {
  const T* __restrict a;
  T at(int i, int64_t p) const { return a[p * Blocking<T>::kMR + i]; }
};
template <typename T>
struct RowPanel {
  const T* row[Blocking<T>::kMR];
  T at(int i, int64_t p) const { return row[i][p]; }
};

// One MR x NR tile: kc rank-1 updates from A's panel a (kc x MR) and the packed panel b (kc x
// NR), then c[i * ldc + j] = combine(alpha * acc, c), plus bias[i] when a bias is given (first
// slice).
template <typename T, typename APanel>
inline void micro_kernel(int64_t kc, const APanel& a, const T* __restrict b, T* c,
                         int64_t ldc, T alpha, T beta, Store store, const T* bias = nullptr) {
  using S = simd::Vec<T>;
  using V = typename S::V;
  constexpr int MR = Blocking<T>::kMR, NV = Blocking<T>::kNV, W = S::kWidth;
  V acc[MR][NV];
  // C's tile is needed only after the loop: fetching it now hides its cache misses.
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV * W; v += 64 / int(sizeof(T))) __builtin_prefetch(c + i * ldc + v, 1, 3);
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * W);
    for (int i = 0; i < MR; ++i) {
      V ai = S::broadcast(a.at(i, p));
      for (int v = 0; v < NV; ++v) acc[i][v] = S::fma(ai, bv[v], acc[i][v]);
    }
    b += NV * W;
  }
  V va = S::broadcast(alpha), vb = S::broadcast(beta);
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) {
      T* ci = c + i * ldc + v * W;
      V r = S::mul(va, acc[i][v]);
      if (bias) r = S::add(r, S::broadcast(bias[i]));
      if (store == Store::ScaleAdd)
        r = S::add(r, S::mul(vb, S::load(ci)));
      else if (store == Store::Accumulate)
        r = S::add(S::load(ci), r);
      S::store(ci, r);
    }
}

// The same combine for one element, for tiles computed into a scratch tile (edges, and
// outputs whose columns are not contiguous): the arithmetic of micro_kernel's lanes.
template <typename T>
inline void combine(T* c, T acc, T alpha, T beta, Store store, const T* bias) {
  T r = alpha * acc;
  if (bias) r = r + *bias;
  if (store == Store::ScaleAdd)
    r = r + beta * *c;
  else if (store == Store::Accumulate)
    r = *c + r;
  *c = r;
}

// A matrix read through strides: element (i, j) at data[i * row_stride + j * col_stride].
// A transposed operand is the same memory with the strides swapped.
template <typename T>
struct Strided {
  const T* data;
  int64_t row_stride, col_stride;
  T at(int64_t i, int64_t j) const { return data[i * row_stride + j * col_stride]; }
};

// Packs rows [i0, i0 + rows) x columns [k0, k0 + kc) of A as one MR-row micro-panel:
// dst[kk * MR + ii], rows past `rows` zero.
template <typename T>
struct PackStridedA {
  Strided<T> a;
  void operator()(int64_t i0, int64_t rows, int64_t k0, int64_t kc, T* __restrict dst) const {
    constexpr int MR = Blocking<T>::kMR;
    if (a.row_stride == 1 && rows == MR) {  // A^T stored: each k holds MR consecutive rows
      for (int64_t kk = 0; kk < kc; ++kk)
        std::memcpy(dst + kk * MR, a.data + (k0 + kk) * a.col_stride + i0, MR * sizeof(T));
      return;
    }
    if (rows == MR) {  // MR rows read side by side, each packed column written whole
      const T* base = a.data + i0 * a.row_stride + k0 * a.col_stride;
      for (int64_t kk = 0; kk < kc; ++kk)
        for (int ii = 0; ii < MR; ++ii) dst[kk * MR + ii] = base[ii * a.row_stride + kk * a.col_stride];
      return;
    }
    for (int ii = 0; ii < MR; ++ii) {
      if (ii >= rows) {
        for (int64_t kk = 0; kk < kc; ++kk) dst[kk * MR + ii] = T(0);
        continue;
      }
      const T* row = a.data + (i0 + ii) * a.row_stride + k0 * a.col_stride;
      for (int64_t kk = 0; kk < kc; ++kk) dst[kk * MR + ii] = row[kk * a.col_stride];
    }
  }
};

// A right operand kept in packed order: written straight into it (Winograd's transformed
// filters) or packed once for several rectangles (prepack_b). k in slices of KC, a slice
// holding the ceil(n / NR) micro-panels of NR columns, each kc x NR; columns past n (up to a
// whole panel) may hold anything (they only reach columns of C that are never stored).
template <typename T>
struct PrepackedB {
  static constexpr bool kPrepacked = true;
  const T* data;
  int64_t k, n;  // of the whole packed matrix
  static int64_t columns_padded(int64_t n) { return (n + Blocking<T>::kNR - 1) / Blocking<T>::kNR * Blocking<T>::kNR; }
  static int64_t size(int64_t k, int64_t n) { return columns_padded(n) * k; }
  const T* panel(int64_t j0, int64_t k0, int64_t kc) const { return data + k0 * columns_padded(n) + j0 * kc; }
};

// A row-major left operand read in place, never packed: the micro-kernel broadcasts from MR
// rows side by side, lda apart. Winograd's forward products read their transformed tiles so
// (rows of a few KB, packed again by every group of filters before), and small products
// a b^T computed as b a^T, b's rows in place (gemm.cpp: a linear layer's weights).
template <typename T>
struct RowsA {
  static constexpr bool kInPlace = true;
  const T* data;
  int64_t lda;
};

template <typename P, typename = void>
struct is_in_place : std::false_type {};
template <typename P>
struct is_in_place<P, std::void_t<decltype(P::kInPlace)>> : std::true_type {};

template <typename P, typename = void>
struct is_prepacked : std::false_type {};
template <typename P>
struct is_prepacked<P, std::void_t<decltype(P::kPrepacked)>> : std::true_type {};

// Packs rows [k0, k0 + kc) x columns [j0, j0 + cols) of B as one NR-column micro-panel:
// dst[kk * NR + jj], columns past `cols` zero.
template <typename T>
struct PackStridedB {
  Strided<T> b;
  void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t cols, T* __restrict dst) const {
    constexpr int NR = Blocking<T>::kNR;
    if (b.col_stride == 1) {  // row-major: each k row of the panel is contiguous
      for (int64_t kk = 0; kk < kc; ++kk) {
        const T* src = b.data + (k0 + kk) * b.row_stride + j0;
        T* out = dst + kk * NR;
        if (cols == NR) {
          std::memcpy(out, src, NR * sizeof(T));
        } else {
          for (int64_t jj = 0; jj < cols; ++jj) out[jj] = src[jj];
          for (int64_t jj = cols; jj < NR; ++jj) out[jj] = T(0);
        }
      }
      return;
    }
    // B^T stored (the weights of linear layers): each packed row gathers NR columns. Rows
    // written whole let GCC vectorise with gathers; column by column was 1.4x slower (MLP's
    // fc1 forward 64 x 128 x 784: 186 -> see commit). (Square blocks transposed in registers,
    // Eigen's ptranspose, were tried: 154 -> 142 us on one thread, no change on two.)
    const T* base = b.data + k0 * b.row_stride + j0 * b.col_stride;
    for (int64_t kk = 0; kk < kc; ++kk) {
      const T* src = base + kk * b.row_stride;
      T* out = dst + kk * NR;
      if (cols == NR) {
        for (int64_t jj = 0; jj < NR; ++jj) out[jj] = src[jj * b.col_stride];
      } else {
        for (int64_t jj = 0; jj < cols; ++jj) out[jj] = src[jj * b.col_stride];
        for (int64_t jj = cols; jj < NR; ++jj) out[jj] = T(0);
      }
    }
  }
};

// Columns that come in groups: column j at (j / size) * stride + j % size. An NCHW tensor
// [n, k, pixels] is so the matrix [k, n * pixels] (row stride pixels, groups of `pixels`
// columns, `k * pixels` apart): the batch of images side by side without moving them.
struct ColumnGroups {
  int64_t size = INT64_MAX, stride = 0;
  int64_t offset(int64_t j) const { return size == INT64_MAX ? j : j / size * stride + j % size; }
  // Whether columns [j0, j0 + count) are consecutive in memory.
  bool contiguous(int64_t j0, int64_t count) const { return size == INT64_MAX || j0 % size + count <= size; }
};

// Where C's elements live, (i, j) at data[i * ldc + columns.offset(j)]; bias[i], when given,
// is added to row i (a convolution's bias, fused into the first k slice's store).
template <typename T>
struct Output {
  T* data;
  int64_t ldc;
  ColumnGroups columns = {};
  const T* bias = nullptr;
  T* at(int64_t i, int64_t j) const { return data + i * ldc + columns.offset(j); }
};

// A matrix with grouped columns, element (i, j) at data[i * row_stride + groups.offset(j)]:
// as the left operand (an output gradient dy [n, k, pixels] as the k x (n * pixels) matrix of
// a filter gradient) or the right one (the same matrix times W^T for a data gradient).
template <typename T>
struct Grouped {
  const T* data;
  int64_t row_stride;
  ColumnGroups groups;
};

template <typename T>
struct PackGroupedA {
  Grouped<T> a;
  void operator()(int64_t i0, int64_t rows, int64_t k0, int64_t kc, T* __restrict dst) const {
    constexpr int MR = Blocking<T>::kMR;
    for (int ii = 0; ii < MR; ++ii) {
      if (ii >= rows) {
        for (int64_t kk = 0; kk < kc; ++kk) dst[kk * MR + ii] = T(0);
        continue;
      }
      const T* row = a.data + (i0 + ii) * a.row_stride;
      for (int64_t kk = 0; kk < kc;) {  // runs of consecutive columns within a group
        const int64_t j = k0 + kk, run = std::min(kc - kk, a.groups.size - j % a.groups.size);
        const T* src = row + a.groups.offset(j);
        for (int64_t t = 0; t < run; ++t) dst[(kk + t) * MR + ii] = src[t];
        kk += run;
      }
    }
  }
};

template <typename T>
struct PackGroupedB {
  Grouped<T> b;
  void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t cols, T* __restrict dst) const {
    constexpr int NR = Blocking<T>::kNR;
    for (int64_t kk = 0; kk < kc; ++kk) {
      const T* row = b.data + (k0 + kk) * b.row_stride;
      T* out = dst + kk * NR;
      for (int64_t jj = 0; jj < cols;) {
        const int64_t j = j0 + jj, run = std::min(cols - jj, b.groups.size - j % b.groups.size);
        const T* src = row + b.groups.offset(j);
        for (int64_t t = 0; t < run; ++t) out[jj + t] = src[t];
        jj += run;
      }
      for (int64_t jj = cols; jj < NR; ++jj) out[jj] = T(0);
    }
  }
};

// A scratch buffer reused from call to call (growing only), kept per thread, so that a
// training step does not fault in fresh pages for its packed panels on every product. On
// 64-byte boundaries, a cache line and an AVX-512 vector: new[] gives 16, and then a vector
// load of a panel can span two lines.
template <typename T>
class ScratchBuffer {
 public:
  T* at_least(size_t elements) {
    if (elements > capacity_) {
      data_.reset(static_cast<T*>(::operator new[](elements * sizeof(T), std::align_val_t(kAlignment))));
      capacity_ = elements;
    }
    return data_.get();
  }

 private:
  static constexpr size_t kAlignment = 64;
  struct Free {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t(kAlignment)); }
  };
  std::unique_ptr<T, Free> data_;
  size_t capacity_ = 0;
};

// The five loops over one rectangle of C, rows [i_lo, i_hi) x columns [j_lo, j_hi), by one
// thread with its own packed buffers.
template <typename T, typename PackA, typename PackB>
void gemm_rectangle(int64_t i_lo, int64_t i_hi, int64_t j_lo, int64_t j_hi, int64_t k, T alpha,
                    const PackA& pack_a, const PackB& pack_b, T beta, const Output<T>& c) {
  using Blk = Blocking<T>;
  constexpr int MR = Blk::kMR, NR = Blk::kNR;
  thread_local ScratchBuffer<T> a_buffer, b_buffer;
  const int64_t kc_max = std::min<int64_t>(Blk::kKC, k);
  T* packed_a = is_in_place<PackA>::value
                    ? nullptr
                    : a_buffer.at_least(size_t(kc_max * std::min<int64_t>(Blk::kMC, (i_hi - i_lo + MR - 1) / MR * MR)));
  T* packed_b = is_prepacked<PackB>::value
                    ? nullptr
                    : b_buffer.at_least(size_t(kc_max * std::min<int64_t>(Blk::kNC, (j_hi - j_lo + NR - 1) / NR * NR)));
  alignas(64) T tile[MR * NR];
  for (int64_t jc = j_lo; jc < j_hi; jc += Blk::kNC) {
    const int64_t nc = std::min<int64_t>(Blk::kNC, j_hi - jc), n_panels = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < k; pc += Blk::kKC) {
      const int64_t kc = std::min<int64_t>(Blk::kKC, k - pc);
      const Store store = pc > 0 ? Store::Accumulate : beta == T(0) ? Store::Overwrite : Store::ScaleAdd;
      const T* bias = pc > 0 ? nullptr : c.bias;
      if constexpr (!is_prepacked<PackB>::value)
        for (int64_t p = 0; p < n_panels; ++p)
          pack_b(pc, kc, jc + p * NR, std::min<int64_t>(NR, nc - p * NR), packed_b + p * NR * kc);
      for (int64_t ic = i_lo; ic < i_hi; ic += Blk::kMC) {
        const int64_t mc = std::min<int64_t>(Blk::kMC, i_hi - ic), m_panels = (mc + MR - 1) / MR;
        if constexpr (!is_in_place<PackA>::value)
          for (int64_t q = 0; q < m_panels; ++q)
            pack_a(ic + q * MR, std::min<int64_t>(MR, mc - q * MR), pc, kc, packed_a + q * MR * kc);
        for (int64_t p = 0; p < n_panels; ++p) {
          const int64_t j0 = jc + p * NR, cols = std::min<int64_t>(NR, j_hi - j0);
          const bool direct = cols == NR && c.columns.contiguous(j0, NR);
          const T* b;
          if constexpr (is_prepacked<PackB>::value)
            b = pack_b.panel(j0, pc, kc);
          else
            b = packed_b + p * NR * kc;
          for (int64_t q = 0; q < m_panels; ++q) {
            const int64_t i0 = ic + q * MR, rows = std::min<int64_t>(MR, i_hi - i0);
            auto multiply = [&](const auto& a) {
              if (direct && rows == MR) {
                micro_kernel(kc, a, b, c.at(i0, j0), c.ldc, alpha, beta, store, bias ? bias + i0 : nullptr);
                return;
              }
              micro_kernel(kc, a, b, tile, NR, T(1), T(0), Store::Overwrite);
              for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < cols; ++j)
                  combine(c.at(i0 + i, j0 + j), tile[i * NR + j], alpha, beta, store, bias ? bias + i0 + i : nullptr);
            };
            if constexpr (is_in_place<PackA>::value) {
              RowPanel<T> a;  // rows past the rectangle repeat its last one (never stored)
              for (int i = 0; i < MR; ++i) a.row[i] = pack_a.data + (i0 + std::min<int64_t>(i, rows - 1)) * pack_a.lda + pc;
              multiply(a);
            } else {
              multiply(PackedPanel<T>{packed_a + q * MR * kc});
            }
          }
        }
      }
    }
  }
}

// How C is cut into rectangles for threads: a grid of row_parts x column_parts. Each
// rectangle repacks the operand it shares with its neighbours (A across a row of the grid, B
// down a column), so rectangles stay wide: at least kMinColumns and kMinRows.
struct Grid {
  int64_t row_parts = 1, column_parts = 1;
};
template <typename T>
Grid split_for_threads(int64_t m, int64_t n, int64_t k, int threads) {
  constexpr int64_t kMinRows = 4 * Blocking<T>::kMR, kMinColumns = 8 * Blocking<T>::kNR;
  Grid g;
  // Below about a million multiply-adds, waking a thread costs more than it saves (the MLP's
  // 64 x 10 x 128 took 2.4x the CPU time on 2 threads). Up to 16 million, one rectangle per
  // thread (fewer duplicate packs: 64 x 128 x 784 on 4 rectangles took 1.2x its 1-thread CPU
  // time); above, twice as many as threads: taken dynamically, a thread held up by the
  // machine's other work does not hold up the rest.
  const double work = double(m) * double(n) * double(k);
  const int64_t wanted = threads <= 1 || work < 1e6 ? 1 : work < 1.6e7 ? threads : 2 * int64_t(threads);
  // The longer side is cut: the operand every rectangle packs whole is then the smaller one.
  // (Cutting rows first where one rectangle per thread was wanted, so that a thread would own
  // the same rows of a weight gradient as in the optimizer's equal shares, lost once B was
  // packed once for all row rectangles: the MLP's dW 128 x 784 x 64 as two column halves,
  // each packing its own half of x, against two row halves reading x packed by both threads:
  // epoch medians over 24 alternating epochs 0.225 -> 0.216 s, 0.223 -> 0.220 s on the
  // x86-64-v3 build; its input gradient 64 x 784 x 128 in bench_ops 104-106 -> 69-76 us.)
  // With one rectangle per thread, columns may be cut into narrower blocks than for the larger
  // products: there are no more rectangles to pack the shared operand again.
  const int64_t min_columns = wanted == threads ? 2 * Blocking<T>::kNR : kMinColumns;
  while (g.row_parts * g.column_parts < wanted) {
    const int64_t rows = m / g.row_parts, cols = n / g.column_parts;
    const bool can_split_cols = cols >= 2 * min_columns, can_split_rows = rows >= 2 * kMinRows;
    if (can_split_cols && (!can_split_rows || cols >= rows))
      g.column_parts *= 2;
    else if (can_split_rows)
      g.row_parts *= 2;
    else
      break;
  }
  return g;
}

// All of B [k x n] packed once in PrepackedB's order into `out`, threads over micro-panels.
template <typename T, typename PackB>
PrepackedB<T> prepack_b(int64_t k, int64_t n, const PackB& pack_b, T* out, int threads) {
  constexpr int64_t NR = Blocking<T>::kNR, KC = Blocking<T>::kKC;
  const int64_t panels = PrepackedB<T>::columns_padded(n) / NR, k_blocks = (k + KC - 1) / KC;
  const int64_t items = k_blocks * panels;
  auto pack = [&](int64_t item) {  // panel by panel: a thread packs its range of B's columns
    const int64_t k0 = item % k_blocks * KC, kc = std::min(KC, k - k0), j0 = item / k_blocks * NR;
    pack_b(k0, kc, j0, std::min(NR, n - j0), out + k0 * panels * NR + j0 * kc);
  };
  if (threads <= 1 || items == 1) {
    for (int64_t item = 0; item < items; ++item) pack(item);
  } else {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t item = 0; item < items; ++item) pack(item);
  }
  return {out, k, n};
}

// C = alpha * A B + beta * C for A m x k and B k x n given as packers, with up to `threads`
// OpenMP threads. Must not be called from inside a parallel region.
template <typename T, typename PackA, typename PackB>
void packed_gemm(int64_t m, int64_t n, int64_t k, T alpha, const PackA& pack_a,
                 const PackB& pack_b, T beta, const Output<T>& c, int threads) {
  using Blk = Blocking<T>;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // no products: C = beta * C (+ bias); beta 0 writes zeros, NaN or not
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T* e = c.at(i, j);
        *e = beta == T(0) ? T(0) : beta * *e;
        if (c.bias) *e += c.bias[i];
      }
    return;
  }
  const Grid g = split_for_threads<T>(m, n, k, threads);
  // B, shared by the rectangles of a column of the grid, would be packed again by each: when
  // it is small, all threads pack it once first, and the rectangles read it in place.
  // (Measured on 2 threads: ResNet-18's strided layers at 64x64, whose rectangles are rows
  // each packing the whole im2col in runs of 2-4 pixels, last stage 3.5 -> 2.5 ms. The same
  // for A, where the rectangles are columns, was tried: MLP's fc1 forward 64 x 128 x 784,
  // whose halves each pack all of x, went 86-88 -> 90 us, and was left out.)
  constexpr int64_t kSharedLimit = int64_t(1) << 20;  // elements: 4 MB of floats
  if constexpr (!is_prepacked<PackB>::value) {
    if (g.row_parts > 1 && PrepackedB<T>::size(k, n) <= kSharedLimit) {
      thread_local ScratchBuffer<T> shared;
      T* packed = shared.at_least(size_t(PrepackedB<T>::size(k, n)));
      return packed_gemm<T>(m, n, k, alpha, pack_a, prepack_b<T>(k, n, pack_b, packed, threads), beta, c, threads);
    }
  }
  const int64_t parts = g.row_parts * g.column_parts;
  auto rectangle = [&](int64_t part) {
    // Boundaries on whole micro-tiles: never a rounding matter (every tile computes the
    // same sums), only an efficient one.
    auto cut = [](int64_t extent, int64_t unit, int64_t pieces, int64_t i) {
      const int64_t units = (extent + unit - 1) / unit;
      return std::min(extent, units * i / pieces * unit);
    };
    const int64_t r = part / g.column_parts, q = part % g.column_parts;
    gemm_rectangle(cut(m, Blk::kMR, g.row_parts, r), cut(m, Blk::kMR, g.row_parts, r + 1),
                   cut(n, Blk::kNR, g.column_parts, q), cut(n, Blk::kNR, g.column_parts, q + 1), k,
                   alpha, pack_a, pack_b, beta, c);
  };
  if (parts == 1 || threads <= 1) {
    for (int64_t part = 0; part < parts; ++part) rectangle(part);
    return;
  }
  if (parts == threads) {  // thread t takes rectangle t: the same part of C every call
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int64_t part = 0; part < parts; ++part) rectangle(part);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t part = 0; part < parts; ++part) rectangle(part);
}

}  // namespace nnlab::cpu::gemm
