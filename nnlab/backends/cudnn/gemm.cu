// GEMM through cuBLAS, its arguments from nnlab/backends/cudnn/gemm_args.h (row-major C read as
// column-major C^T: the operands swap places and keep their flags).
#include "nnlab/backends/cudnn/backend.h"
#include "nnlab/backends/cudnn/gemm_args.h"

namespace nnlab::cudnn {

void CudnnBackend::gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b,
                         double beta, const Tensor& c) {
  int64_t m = c.dim(0), n = c.dim(1), k = ta ? a.dim(0) : a.dim(1);
  switch (gemm_path(m, n, k)) {
    case GemmPath::Nothing:
      return;
    case GemmPath::HandWritten:
      CudaBackend::gemm(ta, tb, alpha, a, b, beta, c);
      return;
    case GemmPath::Cublas:
      break;
  }
  CublasGemmArgs g = cublas_gemm_args(ta, tb, m, n, k);
  float alpha_f = float(alpha), beta_f = float(beta);
  // Mixed precision: 16-bit a, b and c with float32 products and sums (tensor cores on
  // sm_70 and later); float32 tensors as --precision asks.
  cudaDataType_t type = c.dtype() == DType::F16    ? CUDA_R_16F
                        : c.dtype() == DType::BF16 ? CUDA_R_16BF
                                                   : CUDA_R_32F;
  cublasComputeType_t compute = precision_ == Precision::TF32 && type == CUDA_R_32F
                                    ? CUBLAS_COMPUTE_32F_FAST_TF32
                                    : CUBLAS_COMPUTE_32F;
  NNLAB_CUBLAS_CHECK(cublasGemmEx(cublas_, g.trans_first ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  g.trans_second ? CUBLAS_OP_T : CUBLAS_OP_N, int(g.m), int(g.n),
                                  int(g.k), &alpha_f, b.raw(), type, int(g.ld_first), a.raw(),
                                  type, int(g.ld_second), &beta_f, c.raw(), type, int(g.ldc),
                                  compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace nnlab::cudnn
