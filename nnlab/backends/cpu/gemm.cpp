// GEMM: the packed, register-blocked product of nnlab/backends/cpu/packed_gemm.h on op(a) and
// op(b) read through strides (a transpose is the same memory with its strides swapped, absorbed
// by packing). Threads own rectangles of C; every element is the same sum in the same order
// whatever the thread count.
#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"
#include "nnlab/backends/cpu/packed_gemm.h"

namespace nnlab::cpu {

void CpuBackend::gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta,
                      const Tensor& c) {
  if (is_reduced_float(c.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {c}, &CpuBackend::gemm, ta, tb, alpha, a, b, beta, c);
  host::dispatch_float(c.dtype(), "gemm", [&](auto zero) {
    using T = decltype(zero);
    const int64_t m = c.dim(0), n = c.dim(1), k = ta ? a.dim(0) : a.dim(1);
    // op(a) is m x k: a stored [m, k], or [k, m] when transposed; likewise op(b), k x n.
    gemm::Strided<T> A{a.data<T>(), ta ? 1 : k, ta ? m : 1}, B{b.data<T>(), tb ? 1 : n, tb ? k : 1};
    gemm::packed_gemm<T>(m, n, k, T(alpha), gemm::PackStridedA<T>{A}, gemm::PackStridedB<T>{B},
                         T(beta), gemm::Output<T>{c.data<T>(), n}, threads_);
  });
}

}  // namespace nnlab::cpu
