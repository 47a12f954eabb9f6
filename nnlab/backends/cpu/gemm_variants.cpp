#include "nnlab/backends/cpu/gemm_variants.h"

#include <algorithm>

#include "nnlab/backends/cpu/packed_gemm.h"
#include "nnlab/backends/cpu/simd.h"

namespace nnlab::cpu {
namespace {
void naive(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += a[i * k + p] * b[p * n + j];
      c[i * n + j] = acc;
    }
}

void reordered(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  for (int64_t i = 0; i < m; ++i) {
    float* __restrict row = c + i * n;
    std::fill(row, row + n, 0.0f);
    for (int64_t p = 0; p < k; ++p) {
      const float aip = a[i * k + p];
      const float* __restrict brow = b + p * n;
      for (int64_t j = 0; j < n; ++j) row[j] += aip * brow[j];
    }
  }
}

// packed_gemm's register tile (MR rows x NV vectors) on unpacked operands; edge tiles (rows or
// columns past a whole tile) fall back to the reordered loops.
void register_blocked(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  using S = simd::Vec<float>;
  using V = S::V;
  constexpr int MR = gemm::Blocking<float>::kMR, NV = gemm::Blocking<float>::kNV, W = S::kWidth;
  constexpr int NR = NV * W;
  const int64_t m_full = m / MR * MR, n_full = n / NR * NR;
  for (int64_t i0 = 0; i0 < m_full; i0 += MR)
    for (int64_t j0 = 0; j0 < n_full; j0 += NR) {
      V acc[MR][NV];
      for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
      for (int64_t p = 0; p < k; ++p) {
        V bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = S::load(b + p * n + j0 + v * W);
        for (int i = 0; i < MR; ++i) {
          const V ai = S::broadcast(a[(i0 + i) * k + p]);
          for (int v = 0; v < NV; ++v) acc[i][v] = S::fma(ai, bv[v], acc[i][v]);
        }
      }
      for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) S::store(c + (i0 + i) * n + j0 + v * W, acc[i][v]);
    }
  // The edges: rows past m_full (all columns), columns past n_full (the full rows).
  auto edge = [&](int64_t i_lo, int64_t i_hi, int64_t j_lo, int64_t j_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) {
      std::fill(c + i * n + j_lo, c + i * n + j_hi, 0.0f);
      for (int64_t p = 0; p < k; ++p)
        for (int64_t j = j_lo; j < j_hi; ++j) c[i * n + j] += a[i * k + p] * b[p * n + j];
    }
  };
  edge(m_full, m, 0, n);
  edge(0, m_full, n_full, n);
}
}  // namespace

std::vector<std::pair<std::string, GemmVariant>> gemm_variants() {
  return {{"naive", GemmVariant::Naive},
          {"reordered", GemmVariant::Reordered},
          {"register-blocked", GemmVariant::RegisterBlocked},
          {"packed", GemmVariant::Packed},
          {"packed-threaded", GemmVariant::PackedThreaded}};
}

void gemm_variant(GemmVariant variant, int64_t m, int64_t n, int64_t k, const float* a,
                  const float* b, float* c, int threads) {
  switch (variant) {
    case GemmVariant::Naive:
      return naive(m, n, k, a, b, c);
    case GemmVariant::Reordered:
      return reordered(m, n, k, a, b, c);
    case GemmVariant::RegisterBlocked:
      return register_blocked(m, n, k, a, b, c);
    case GemmVariant::Packed:
    case GemmVariant::PackedThreaded:
      gemm::packed_gemm<float>(m, n, k, 1.0f, gemm::PackStridedA<float>{{a, k, 1}},
                               gemm::PackStridedB<float>{{b, n, 1}}, 0.0f, gemm::Output<float>{c, n},
                               variant == GemmVariant::Packed ? 1 : threads);
      return;
  }
}

}  // namespace nnlab::cpu
