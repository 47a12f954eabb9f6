// GEMM: the packed, register-blocked product of nnlab/backends/cpu/packed_gemm.h on op(a) and
// op(b) read through strides (a transpose is the same memory with its strides swapped, absorbed
// by packing). Threads own rectangles of C; every element is the same sum in the same order
// whatever the thread count.
#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"
#include "nnlab/backends/cpu/packed_gemm.h"

namespace nnlab::cpu {
namespace {
// C = a b^T with b stored [n, k] (a linear layer's forward, x W^T) costs two gathers: a's MR-row
// panels and b^T's NR-column panels both interleave rows of k values. Computed as C^T = b a^T,
// b's rows are read in place (gemm::RowsA) and only a^T is packed; C^T goes through a scratch
// buffer into C. Its elements are the same chains of fused multiply-adds, so C is bit-identical
// either way (beta 0 only: with beta, the order of C's own term would change).
//
// It pays when it computes no more micro-tiles than the direct form (ties go to it, it packs
// less), in products small enough that reading b in place from cache is cheap. Measured on 2
// threads (one, where different), us: the MLP's fc1 64 x 128 x 784 87 -> 79 (153 -> 133), its
// fc2 64 x 10 x 128 7.0 -> 4.3, LeNet's 64 x 120 x 400 55 -> 39 and 64 x 84 x 120 18.0 -> 14.6;
// 256 x 64 x 512, more tiles transposed (86 against 88), 129 -> 142 (192 -> 258).
template <typename T>
bool transposed_is_cheaper(int64_t m, int64_t n, int64_t k) {
  using Blk = gemm::Blocking<T>;
  auto tiles = [](int64_t rows, int64_t cols) {
    return (rows + Blk::kMR - 1) / Blk::kMR * ((cols + Blk::kNR - 1) / Blk::kNR);
  };
  constexpr double kMaxWork = 1.6e7;  // multiply-adds: larger products keep the tuned direct form
  return double(m) * double(n) * double(k) <= kMaxWork && tiles(n, m) <= tiles(m, n);
}

template <typename T>
void gemm_transposed(int64_t m, int64_t n, int64_t k, T alpha, const T* a, const T* b, T* c,
                     int threads) {
  thread_local gemm::ScratchBuffer<T> scratch;
  T* c_transposed = scratch.at_least(size_t(n * m));
  gemm::packed_gemm<T>(n, m, k, alpha, gemm::RowsA<T>{b, k},
                       gemm::PackStridedB<T>{gemm::Strided<T>{a, 1, k}}, T(0),
                       gemm::Output<T>{c_transposed, m}, threads);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * n + j] = c_transposed[j * m + i];
}
}  // namespace

void CpuBackend::gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta,
                      const Tensor& c) {
  if (is_reduced_float(c.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {c}, &CpuBackend::gemm, ta, tb, alpha, a, b, beta, c);
  host::dispatch_float(c.dtype(), "gemm", [&](auto zero) {
    using T = decltype(zero);
    const int64_t m = c.dim(0), n = c.dim(1), k = ta ? a.dim(0) : a.dim(1);
    // op(a) is m x k: a stored [m, k], or [k, m] when transposed; likewise op(b), k x n.
    if (tb && !ta && beta == 0 && transposed_is_cheaper<T>(m, n, k))
      return gemm_transposed<T>(m, n, k, T(alpha), a.data<T>(), b.data<T>(), c.data<T>(), threads_);
    gemm::Strided<T> A{a.data<T>(), ta ? 1 : k, ta ? m : 1}, B{b.data<T>(), tb ? 1 : n, tb ? k : 1};
    gemm::packed_gemm<T>(m, n, k, T(alpha), gemm::PackStridedA<T>{A}, gemm::PackStridedB<T>{B},
                         T(beta), gemm::Output<T>{c.data<T>(), n}, threads_);
  });
}

}  // namespace nnlab::cpu
