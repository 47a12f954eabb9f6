// Optimizer steps as one fused kernel per parameter tensor: each thread reads its parameter,
// gradient and state once and applies nnlab/core/update_rules.h (the same arithmetic as the CPU
// backends, in double), so no step round-trips to the host.
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"
#include "nnlab/core/update_rules.h"

namespace nnlab::NNLAB_KERNELS {

namespace {
constexpr int kThreads = 256;

__global__ void sgd_kernel(float* param, const float* grad, float* buf, int64_t n, double lr,
                           double momentum, double dampening, double weight_decay, bool nesterov,
                           bool first_step) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float none = 0.0f;
  param[i] = rules::sgd(param[i], grad[i], momentum != 0 ? buf[i] : none, lr, momentum, dampening,
                        weight_decay, nesterov, first_step);
}

__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, int64_t n,
                            double lr, double beta1, double beta2, double eps, double weight_decay,
                            double bc1, double sqrt_bc2) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n)
    param[i] = rules::adam(param[i], grad[i], m[i], v[i], lr, beta1, beta2, eps, weight_decay,
                           rules::AdamCorrection{bc1, sqrt_bc2});
}

// Every thread that meets a non-finite gradient stores 1 to the flag: the same value from any
// number of threads, so no atomic is needed (PyTorch's unscale kernel does the same).
__global__ void amp_unscale_kernel(float* grad, int64_t n, float inv_scale, float* found_inf) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float g = grad[i];
  if (!isfinite(g)) *found_inf = 1.0f;
  grad[i] = g * inv_scale;
}
}  // namespace

void amp_unscale(float* grad, int64_t n, float inv_scale, float* found_inf) {
  if (n > 0)
    NNLAB_LAUNCH(amp_unscale_kernel, blocks_for(n, kThreads), dim3(kThreads), 0, grad, n, inv_scale,
                 found_inf);
}

void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, double lr,
                double momentum, double dampening, double weight_decay, bool nesterov,
                bool first_step) {
  if (n == 0) return;
  NNLAB_LAUNCH(sgd_kernel, dim3(unsigned((n + kThreads - 1) / kThreads)), dim3(kThreads), 0, param,
               grad, momentum_buf, n, lr, momentum, dampening, weight_decay, nesterov, first_step);
}

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  if (n == 0) return;
  rules::AdamCorrection c = rules::adam_correction(beta1, beta2, step);  // once, on the host
  NNLAB_LAUNCH(adam_kernel, dim3(unsigned((n + kThreads - 1) / kThreads)), dim3(kThreads), 0, param,
               grad, m, v, n, lr, beta1, beta2, eps, weight_decay, c.bc1, c.sqrt_bc2);
}

}  // namespace nnlab::NNLAB_KERNELS
