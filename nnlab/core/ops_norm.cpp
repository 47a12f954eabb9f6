#include "nnlab/core/autograd.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::ops {

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum, double eps) {
  if (x.rank() != 4)
    throw std::invalid_argument("batch_norm2d: input must be 4-D [n, c, h, w], has shape " +
                                x.shape().str());
  Shape per_channel{x.dim(1)};
  // A 16-bit input keeps its statistics and parameters in float32 (mixed precision).
  DType stats_dtype = is_reduced_float(x.dtype()) ? DType::F32 : x.dtype();
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var}) {
    check_shape(*t, per_channel, "batch_norm2d", "a per-channel tensor");
    check_dtype(*t, stats_dtype, "batch_norm2d", "a per-channel tensor");
  }
  if (training && x.dim(0) * x.dim(2) * x.dim(3) < 2)
    throw std::invalid_argument(
        "batch_norm2d: training needs more than one value per channel, got input " +
        x.shape().str());
  Backend& be = x.backend();
  OpScope op_scope(be, Op::BatchNormForward, x.dtype());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), be);
  Tensor mean = Tensor::empty(per_channel, stats_dtype, be),
         invstd = Tensor::empty(per_channel, stats_dtype, be);
  be.batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum, eps, y,
                        mean, invstd);
  Tensor sx = x.detach(), sw = weight.detach();
  // The backward keeps this layer's eps with its other saved state (cuDNN needs it again).
  return record(y, "batch_norm2d", {x, weight, bias},
                [sx, sw, mean, invstd, training, eps](const Tensor& g, const std::vector<bool>&,
                                                      std::vector<Tensor>& grads) {
                  Backend& b = g.backend();
                  OpScope op_scope(b, Op::BatchNormBackward, g.dtype());
                  grads[0] = Tensor::empty(sx.shape(), g.dtype(), b);
                  grads[1] = Tensor::empty(sw.shape(), sw.dtype(), b);
                  grads[2] = Tensor::empty(sw.shape(), sw.dtype(), b);
                  b.batch_norm_backward(g, sx, sw, mean, invstd, training, eps, grads[0],
                                        grads[1], grads[2]);
                });
}

}  // namespace nnlab::ops
