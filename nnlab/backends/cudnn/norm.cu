// Batch norm with batch statistics through cuDNN (spatial mode: per channel over n, h, w).
// cuDNN keeps the running variance unbiased, as PyTorch does, and saves 1/sqrt(var + eps),
// which is this interface's save_invstd. Evaluation mode (running statistics) and its
// backward stay on the hand-written kernels, which also save the statistics they used.
#include "nnlab/backends/cudnn/backend.h"

namespace nnlab::cudnn {

void CudnnBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                       const Tensor& running_mean, const Tensor& running_var,
                                       bool training, double momentum, double eps, const Tensor& y,
                                       const Tensor& save_mean, const Tensor& save_invstd) {
  if (!training || eps < CUDNN_BN_MIN_EPSILON || x.numel() == 0 ||
      !cudnn_dtype(x.dtype())) {
    CudaBackend::batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum,
                                   eps, y, save_mean, save_invstd);
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& xd = desc_for(x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.dtype());
  TensorDesc& cd = desc_for(1, x.dim(1), 1, 1);  // float32 beside float16 data too
  NNLAB_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cudnn_, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd.desc, x.raw(), xd.desc, y.raw(), cd.desc,
      f(weight), f(bias), momentum, f(running_mean), f(running_var), eps, f(save_mean),
      f(save_invstd)));
}

void CudnnBackend::batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                        const Tensor& save_mean, const Tensor& save_invstd,
                                        bool batch_statistics, double eps, const Tensor& dx,
                                        const Tensor& dweight, const Tensor& dbias) {
  // The same choice as the forward's, from the same eps: cuDNN wants the forward's epsilon
  // again ("should be the same in forward and backward", cudnn_ops.h), the layer's own.
  if (!batch_statistics || eps < CUDNN_BN_MIN_EPSILON || x.numel() == 0 ||
      !cudnn_dtype(x.dtype())) {
    CudaBackend::batch_norm_backward(dy, x, weight, save_mean, save_invstd, batch_statistics, eps,
                                    dx, dweight, dbias);
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& xd = desc_for(x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.dtype());
  TensorDesc& cd = desc_for(1, x.dim(1), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      cudnn_, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, xd.desc, x.raw(), xd.desc, dy.raw(),
      xd.desc, dx.raw(), cd.desc, f(weight), f(dweight), f(dbias), eps, f(save_mean),
      f(save_invstd)));
}

}  // namespace nnlab::cudnn
