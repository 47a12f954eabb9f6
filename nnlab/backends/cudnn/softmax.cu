// Log-softmax over the rows of [n, c] through cuDNN: each row is one instance (n x c x 1 x 1).
#include "nnlab/backends/cudnn/backend.h"

namespace nnlab::cudnn {

void CudnnBackend::log_softmax_forward(const Tensor& x, const Tensor& y) {
  if (x.numel() == 0) return;
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& d = desc_for(x.dim(0), x.dim(1), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnSoftmaxForward(cudnn_, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE,
                                        &one, d.desc, f(x), &zero, d.desc, f(y)));
}

void CudnnBackend::log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) {
  if (dy.numel() == 0) return;
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& d = desc_for(dy.dim(0), dy.dim(1), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnSoftmaxBackward(cudnn_, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE,
                                         &one, d.desc, f(y), d.desc, f(dy), &zero, d.desc, f(dx)));
}

}  // namespace nnlab::cudnn
