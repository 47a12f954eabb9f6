// Log-softmax over the rows of [n, c] through cuDNN: each row is one instance (n x c x 1 x 1).
#include "nnlab/backends/cudnn/backend.h"

namespace nnlab::cudnn {

// 16-bit tensors (autocast keeps log-softmax in float32; a direct call may not) take the
// hand-written path.
void CudnnBackend::log_softmax_forward(const Tensor& x, const Tensor& y) {
  if (x.numel() == 0) return;
  if (is_reduced_float(x.dtype())) return CudaBackend::log_softmax_forward(x, y);
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& d = desc_for(x.dim(0), x.dim(1), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnSoftmaxForward(cudnn_, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE,
                                        &one, d.desc, f(x), &zero, d.desc, f(y)));
}

void CudnnBackend::log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) {
  if (dy.numel() == 0) return;
  if (is_reduced_float(dy.dtype())) return CudaBackend::log_softmax_backward(dy, y, dx);
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& d = desc_for(dy.dim(0), dy.dim(1), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnSoftmaxBackward(cudnn_, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE,
                                         &one, d.desc, f(y), d.desc, f(dy), &zero, d.desc, f(dx)));
}

}  // namespace nnlab::cudnn
