// Batch normalisation. Statistics: one block per channel; each thread sums a fixed, strided
// share of the channel's n * plane values and the block adds the shares in a fixed order
// (nnlab/backends/cuda/block_reduce.cuh), so no float atomics and the same result every run. Thread 0
// saves the mean and 1/sqrt(var + eps) and moves the running statistics (nnlab/core/update_rules.h,
// as the CPU backends). Normalisation and dx: one thread per element. x, y, dy and dx have the
// storage type T: float, or __half / __nv_bfloat16 for mixed precision, whose statistics,
// parameters and sums stay float32 (as cuDNN's mixed batch norm); each output rounds once.
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"
#include "nnlab/core/update_rules.h"

namespace nnlab::NNLAB_KERNELS {
#include "nnlab/backends/cuda/block_reduce.cuh"

namespace {
constexpr int kThreads = 256;

__device__ inline int64_t channel_element(int64_t e, int64_t ch, int64_t c, int64_t plane) {
  return (e / plane * c + ch) * plane + e % plane;
}

template <typename T>
__global__ void statistics_kernel(const T* x, float* running_mean, float* running_var,
                                  bool training, double momentum, double eps, float* save_mean,
                                  float* save_invstd, int64_t n, int64_t c, int64_t plane) {
  int64_t ch = blockIdx.x, count = n * plane;
  float mean = running_mean[ch], var = running_var[ch], squares = 0.0f;
  if (training) {
    float part = 0.0f;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x)
      part += widen(x[channel_element(e, ch, c, plane)]);
    mean = block_sum(part) / float(count);
    part = 0.0f;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      float d = widen(x[channel_element(e, ch, c, plane)]) - mean;
      part += d * d;
    }
    squares = block_sum(part);
    var = squares / float(count);
  }
  if (threadIdx.x == 0) {
    save_mean[ch] = mean;
    save_invstd[ch] = float(1.0 / sqrt(double(var) + eps));
    if (training)
      rules::update_running_stats(running_mean[ch], running_var[ch], double(mean), double(squares),
                                  count, momentum);
  }
}

template <typename T>
__global__ void normalize_kernel(const T* x, const float* weight, const float* bias, const float* mean,
                                 const float* invstd, T* y, int64_t total, int64_t c, int64_t plane) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  int64_t ch = i / plane % c;
  y[i] = narrow<T>((widen(x[i]) - mean[ch]) * invstd[ch] * weight[ch] + bias[ch]);
}

template <typename T>
__global__ void gradient_sums_kernel(const T* dy, const T* x, const float* mean,
                                     const float* invstd, float* dweight, float* dbias, int64_t n,
                                     int64_t c, int64_t plane) {
  int64_t ch = blockIdx.x, count = n * plane;
  float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
  for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
    int64_t at = channel_element(e, ch, c, plane);
    float g = widen(dy[at]);
    sum_dy += g;
    sum_dy_xhat += g * (widen(x[at]) - mean[ch]) * invstd[ch];
  }
  sum_dy = block_sum(sum_dy);
  sum_dy_xhat = block_sum(sum_dy_xhat);
  if (threadIdx.x == 0) {
    dbias[ch] = sum_dy;
    dweight[ch] = sum_dy_xhat;
  }
}

// With batch statistics: dx = g * invstd * (dy - sum(dy)/m - xhat * sum(dy xhat)/m).
template <typename T>
__global__ void input_gradient_kernel(const T* dy, const T* x, const float* weight, const float* mean,
                                      const float* invstd, const float* dweight, const float* dbias,
                                      bool batch_statistics, T* dx, int64_t total, int64_t c, int64_t plane,
                                      float m) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  int64_t ch = i / plane % c;
  float d = widen(dy[i]);
  if (batch_statistics) d -= dbias[ch] / m + (widen(x[i]) - mean[ch]) * invstd[ch] * dweight[ch] / m;
  dx[i] = narrow<T>(weight[ch] * invstd[ch] * d);
}

template <typename T>
void forward(const T* x, const float* weight, const float* bias, float* running_mean, float* running_var,
             bool training, double momentum, double eps, T* y, float* save_mean, float* save_invstd, int64_t n,
             int64_t c, int64_t plane) {
  NNLAB_LAUNCH(statistics_kernel<T>, dim3(unsigned(c)), dim3(kThreads), 0, x, running_mean, running_var, training,
               momentum, eps, save_mean, save_invstd, n, c, plane);
  int64_t total = n * c * plane;
  NNLAB_LAUNCH(normalize_kernel<T>, dim3(unsigned((total + kThreads - 1) / kThreads)), dim3(kThreads), 0, x,
               weight, bias, save_mean, save_invstd, y, total, c, plane);
}

template <typename T>
void backward(const T* dy, const T* x, const float* weight, const float* save_mean, const float* save_invstd,
              bool batch_statistics, T* dx, float* dweight, float* dbias, int64_t n, int64_t c, int64_t plane) {
  NNLAB_LAUNCH(gradient_sums_kernel<T>, dim3(unsigned(c)), dim3(kThreads), 0, dy, x, save_mean, save_invstd,
               dweight, dbias, n, c, plane);
  int64_t total = n * c * plane;
  NNLAB_LAUNCH(input_gradient_kernel<T>, dim3(unsigned((total + kThreads - 1) / kThreads)), dim3(kThreads), 0,
               dy, x, weight, save_mean, save_invstd, dweight, dbias, batch_statistics, dx, total, c, plane,
               float(n * plane));
}
}  // namespace

void batch_norm_forward(const float* x, const float* weight, const float* bias, float* running_mean,
                        float* running_var, bool training, double momentum, double eps, float* y,
                        float* save_mean, float* save_invstd, int64_t n, int64_t c, int64_t plane) {
  forward(x, weight, bias, running_mean, running_var, training, momentum, eps, y, save_mean, save_invstd, n, c,
          plane);
}

void batch_norm_backward(const float* dy, const float* x, const float* weight,
                         const float* save_mean, const float* save_invstd, bool batch_statistics,
                         float* dx, float* dweight, float* dbias, int64_t n, int64_t c,
                         int64_t plane) {
  backward(dy, x, weight, save_mean, save_invstd, batch_statistics, dx, dweight, dbias, n, c, plane);
}

void batch_norm_forward_16(Float16Kind kind, const uint16_t* x, const float* weight, const float* bias,
                           float* running_mean, float* running_var, bool training, double momentum, double eps,
                           uint16_t* y, float* save_mean, float* save_invstd, int64_t n, int64_t c, int64_t plane) {
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    forward(as<T>(x), weight, bias, running_mean, running_var, training, momentum, eps, as<T>(y), save_mean,
            save_invstd, n, c, plane);
  });
}

void batch_norm_backward_16(Float16Kind kind, const uint16_t* dy, const uint16_t* x, const float* weight,
                            const float* save_mean, const float* save_invstd, bool batch_statistics, uint16_t* dx,
                            float* dweight, float* dbias, int64_t n, int64_t c, int64_t plane) {
  with_storage(kind, [&](auto type) {
    using T = decltype(type);
    backward(as<T>(dy), as<T>(x), weight, save_mean, save_invstd, batch_statistics, as<T>(dx), dweight, dbias, n,
             c, plane);
  });
}

}  // namespace nnlab::NNLAB_KERNELS
