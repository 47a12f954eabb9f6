// GEMM through cuBLAS. cuBLAS is column-major; a row-major C = op(A) op(B) is, read
// column-major, C^T = op(B)^T op(A)^T, so the operands swap places and keep their flags.
#include "nnlab/backends/cudnn/backend.h"

namespace nnlab::cudnn {

void CudnnBackend::gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b,
                         double beta, const Tensor& c) {
  int m = int(c.dim(0)), n = int(c.dim(1)), k = int(ta ? a.dim(0) : a.dim(1));
  if (m == 0 || n == 0) return;
  float alpha_f = float(alpha), beta_f = float(beta);
  int lda = int(a.dim(1)), ldb = int(b.dim(1));  // row lengths of the stored matrices
  cublasComputeType_t compute =
      precision_ == Precision::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  NNLAB_CUBLAS_CHECK(cublasGemmEx(cublas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha_f, f(b),
                                  CUDA_R_32F, ldb, f(a), CUDA_R_32F, lda, &beta_f, f(c),
                                  CUDA_R_32F, n, compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace nnlab::cudnn
