// GEMM through Eigen's blocked, vectorised product (multi-threaded by Eigen's own OpenMP
// when the product is large enough).
#include "cpu/eigen/backend.h"
#include "cpu/eigen/common.h"

namespace nnlab::eigen {

void CpuBackend::gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b,
                      double beta, const Tensor& c) {
  cpu::dispatch_float(c.dtype(), "gemm", [&](auto zero) {
    using T = decltype(zero);
    auto A = matrix<T>(a), B = matrix<T>(b), C = matrix<T>(c);
    if (beta == 0) C.setZero();  // beta 0 ignores whatever c held, NaN included
    else if (beta != 1) C *= T(beta);
    T s = T(alpha);
    if (!ta && !tb) C.noalias() += s * A * B;
    else if (!ta && tb) C.noalias() += s * A * B.transpose();
    else if (ta && !tb) C.noalias() += s * A.transpose() * B;
    else C.noalias() += s * A.transpose() * B.transpose();
  });
}

}  // namespace nnlab::eigen
