// How the cudnn backend hands a row-major GEMM, C[m, n] = op(A) op(B), to column-major
// cuBLAS: read column-major, the stored C is C^T = op(B)^T op(A)^T, so B goes first, the
// operands keep their flags, and each leading dimension is the row length of the stored
// row-major matrix. Plain host logic, apart from the backend, so that tests check it without
// a GPU.
#pragma once
#include <algorithm>
#include <cstdint>

namespace nnlab::cudnn {

// cublasGemmEx's arguments, in its column-major terms: C (m x n) = op(first) op(second).
struct CublasGemmArgs {
  bool trans_first, trans_second;  // B's flag, then A's
  int64_t m, n, k;                 // the row-major product's n, m, k
  int64_t ld_first, ld_second, ldc;
  // cuBLAS refuses (CUBLAS_STATUS_INVALID_VALUE) a leading dimension below max(1, rows) of
  // the column-major matrix it describes: rows of op(X) are m for the first operand when not
  // transposed, else k; for the second, k when not transposed, else n; C has m.
  bool valid() const {
    auto at_least = [](int64_t ld, int64_t rows) { return ld >= std::max<int64_t>(1, rows); };
    return at_least(ld_first, trans_first ? k : m) && at_least(ld_second, trans_second ? n : k) &&
           at_least(ldc, m);
  }
};

inline CublasGemmArgs cublas_gemm_args(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
  // Stored row-major: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k].
  return {trans_b, trans_a, n, m, k, trans_b ? k : n, trans_a ? m : k, n};
}

// An empty C needs nothing. With k == 0, C = beta * C, and an operand's rows are empty: cuBLAS
// would be handed a leading dimension of 0 for A or B and refuse it, so the hand-written
// kernels, which handle k == 0, compute it.
enum class GemmPath { Nothing, HandWritten, Cublas };
inline GemmPath gemm_path(int64_t m, int64_t n, int64_t k) {
  if (m == 0 || n == 0) return GemmPath::Nothing;
  return k == 0 ? GemmPath::HandWritten : GemmPath::Cublas;
}

}  // namespace nnlab::cudnn
