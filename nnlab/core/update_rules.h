// The per-element update rules of torch.optim.SGD and torch.optim.Adam and of batch norm's
// running statistics, written once and used by every backend (CPU loops and CUDA kernels).
#pragma once
#include <cmath>
#include <cstdint>

#include "nnlab/core/philox.h"  // NNLAB_HOST_DEVICE

namespace nnlab::rules {

// Returns the new parameter; `buf` is the momentum buffer (unused when momentum == 0).
template <typename T>
NNLAB_HOST_DEVICE inline T sgd(T param, T grad, T& buf, double lr, double momentum,
                               double dampening, double weight_decay, bool nesterov,
                               bool first_step) {
  double d = double(grad) + weight_decay * double(param);
  if (momentum != 0) {
    double b = first_step ? d : momentum * double(buf) + (1.0 - dampening) * d;
    buf = T(b);
    d = nesterov ? d + momentum * b : b;
  }
  return T(double(param) - lr * d);
}

// Adam's bias corrections for one step: bc1 = 1 - beta1^step and sqrt(bc2) = sqrt(1 - beta2^step),
// computed once per tensor (two pow calls per element cost more than the update itself).
struct AdamCorrection {
  double bc1, sqrt_bc2;
};
NNLAB_HOST_DEVICE inline AdamCorrection adam_correction(double beta1, double beta2, int64_t step) {
  return {1.0 - pow(beta1, double(step)), sqrt(1.0 - pow(beta2, double(step)))};
}

// Bias-corrected Adam as PyTorch computes it: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
template <typename T>
NNLAB_HOST_DEVICE inline T adam(T param, T grad, T& m, T& v, double lr, double beta1, double beta2,
                                double eps, double weight_decay, AdamCorrection c) {
  double g = double(grad) + weight_decay * double(param);
  double mn = beta1 * double(m) + (1.0 - beta1) * g;
  double vn = beta2 * double(v) + (1.0 - beta2) * g * g;
  m = T(mn);
  v = T(vn);
  return T(double(param) - lr / c.bc1 * mn / (sqrt(vn) / c.sqrt_bc2 + eps));
}

// Batch norm's running statistics after a training step, as torch.nn.BatchNorm2d: an
// exponential average with weight `momentum`, the variance unbiased (count / (count - 1)).
template <typename T>
NNLAB_HOST_DEVICE inline void update_running_stats(T& running_mean, T& running_var,
                                                   double batch_mean, double sum_squared_deviations,
                                                   int64_t count, double momentum) {
  double unbiased = count > 1 ? sum_squared_deviations / double(count - 1) : sum_squared_deviations;
  running_mean = T((1 - momentum) * double(running_mean) + momentum * batch_mean);
  running_var = T((1 - momentum) * double(running_var) + momentum * unbiased);
}

}  // namespace nnlab::rules
