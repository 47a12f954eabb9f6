// GEMM through Eigen's blocked, vectorised product. Threads take fixed 64-wide blocks of the
// output, each computed by a single-threaded Eigen product: the blocks, and so every rounding,
// are the same whatever the thread count. Rows are split when there are at least two row
// blocks (each block repacks all of op(b), once per block), otherwise columns; on the MLP this
// measured best (dW = g^T x: 86 us split by rows vs 100 us by 13 column blocks).
#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"

namespace nnlab::cpu {
namespace {
constexpr int64_t kBlock = 64;  // output rows (or columns) per task

template <typename T, typename A, typename B, typename C>
void product(T alpha, double beta, const A& a, const B& b, C&& c) {
  if (beta == 0)
    c.noalias() = alpha * a * b;  // beta 0 ignores whatever c held, NaN included
  else {
    if (beta != 1) c *= T(beta);
    c.noalias() += alpha * a * b;
  }
}
}  // namespace

void CpuBackend::gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta,
                      const Tensor& c) {
  if (is_reduced_float(c.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {c}, &CpuBackend::gemm, ta, tb, alpha, a, b, beta, c);
  host::dispatch_float(c.dtype(), "gemm", [&](auto zero) {
    using T = decltype(zero);
    auto A = matrix<T>(a), B = matrix<T>(b), C = matrix<T>(c);
    int64_t n = c.dim(0), m = c.dim(1);
    bool split_rows = n >= 2 * kBlock || n >= m;
    // op(x) as an expression; the products below never copy the operands.
    auto run = [&](auto&& opA, auto&& opB) {
      parallel_chunks(split_rows ? n : m, kBlock, threads_, [&](int64_t lo, int64_t hi) {
        if (split_rows)
          product(T(alpha), beta, opA.middleRows(lo, hi - lo), opB, C.middleRows(lo, hi - lo));
        else
          product(T(alpha), beta, opA, opB.middleCols(lo, hi - lo), C.middleCols(lo, hi - lo));
      });
    };
    if (!ta && !tb)
      run(A, B);
    else if (!ta && tb)
      run(A, B.transpose());
    else if (ta && !tb)
      run(A.transpose(), B);
    else
      run(A.transpose(), B.transpose());
  });
}

}  // namespace nnlab::cpu
