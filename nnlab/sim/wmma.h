// CUDA's warp matrix API (mma.h, nvcuda::wmma) for the simulator's build of the kernels: the
// 16x16x16 shape with __half operands and a float accumulator, the fragments and operations
// the tensor-core GEMM uses (fill_fragment, load_matrix_sync, mma_sync, store_matrix_sync).
//
// As on a GPU, a fragment is spread over the warp's 32 lanes, each holding num_elements of the
// tile in an order the program must not rely on; here lane l holds the elements l, l + 32, ...
// of the tile in row-major order (8 each). Every operation is warp-collective: all 32 lanes
// of a converged warp call it (mma_sync exchanges the operands between lanes through the
// simulator's warp exchange, so a missing lane is reported as for a shuffle). mma_sync adds
// each product to the accumulator in float32, in k order (fused where the compiler fuses); tensor cores sum in an order and
// with intermediate roundings NVIDIA does not document, so a GPU's result may differ in the
// last bits of float32 (never of the inputs, which are exact in float32).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "nnlab/sim/half.h"
#include "nnlab/sim/sim.h"

namespace nnlab::sim::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the simulator has the 16x16x16 shape only");
  static constexpr int num_elements = 256 / 32;  // this lane's share of the tile
  T x[num_elements];
};

namespace detail {
inline int lane() { return int(lane_id()); }
// Element j of this lane: the tile's (row, column) in row-major order.
inline int row_of(int j) { return (lane() + 32 * j) / 16; }
inline int col_of(int j) { return (lane() + 32 * j) % 16; }

// Every lane's 8 halves of a fragment, as the 16x16 tile in float (row-major), converting
// only the elements `wanted(e)` selects (the others are left unset): a lane's 8 outputs read
// half the rows of A and one column of B, and the conversions are most of the simulator's
// time in mma_sync.
template <typename Wanted>
inline void gather(const __half (&mine)[8], float (&tile)[256], Wanted wanted) {
  uint64_t words[2];
  std::memcpy(words, mine, sizeof(words));
  for (int w = 0; w < 2; ++w) {
    uint64_t all[32];
    warp_all_gather(0xffffffffu, words[w], all, __FILE__, __LINE__);
    for (int src = 0; src < 32; ++src) {
      __half values[4];
      std::memcpy(values, &all[src], sizeof(values));
      for (int q = 0; q < 4; ++q) {
        int e = src + 32 * (4 * w + q);
        if (wanted(e)) tile[e] = __half2float(values[q]);
      }
    }
  }
}
}  // namespace detail

template <typename Use, typename T, typename Layout>
void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, T value) {
  for (T& v : f.x) v = value;
}
inline void fill_fragment(fragment<accumulator, 16, 16, 16, float>& f, float value) {
  for (float& v : f.x) v = value;
}

// Operand tiles: element (r, c) at p[r * ldm + c] (row_major) or p[c * ldm + r] (col_major).
template <typename Use, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, __half, Layout>& f, const __half* p, unsigned ldm) {
  for (int j = 0; j < 8; ++j) {
    int r = detail::row_of(j), c = detail::col_of(j);
    f.x[j] = std::is_same_v<Layout, col_major> ? p[size_t(c) * ldm + r] : p[size_t(r) * ldm + c];
  }
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm,
                             layout_t layout) {
  for (int j = 0; j < 8; ++j) {
    int r = detail::row_of(j), c = detail::col_of(j);
    f.x[j] = layout == mem_col_major ? p[size_t(c) * ldm + r] : p[size_t(r) * ldm + c];
  }
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
  for (int j = 0; j < 8; ++j) {
    int r = detail::row_of(j), c = detail::col_of(j);
    (layout == mem_col_major ? p[size_t(c) * ldm + r] : p[size_t(r) * ldm + c]) = f.x[j];
  }
}

// d = a @ b + c, a 16x16 tile each; d may be c.
template <typename LayoutA, typename LayoutB>
void mma_sync(fragment<accumulator, 16, 16, 16, float>& d,
              const fragment<matrix_a, 16, 16, 16, __half, LayoutA>& a,
              const fragment<matrix_b, 16, 16, 16, __half, LayoutB>& b,
              const fragment<accumulator, 16, 16, 16, float>& c) {
  // This lane's rows are row_of(j) = lane / 16 + 2 j (those of its parity), its column lane % 16.
  float a_tile[256], b_tile[256];
  int lane = detail::lane();
  detail::gather(a.x, a_tile, [lane](int e) { return (e / 16) % 2 == (lane / 16) % 2; });
  detail::gather(b.x, b_tile, [lane](int e) { return e % 16 == lane % 16; });
  for (int j = 0; j < 8; ++j) {
    int r = detail::row_of(j), col = detail::col_of(j);
    float acc = c.x[j];
    for (int k = 0; k < 16; ++k) acc += a_tile[r * 16 + k] * b_tile[k * 16 + col];
    d.x[j] = acc;
  }
}

}  // namespace nnlab::sim::wmma
