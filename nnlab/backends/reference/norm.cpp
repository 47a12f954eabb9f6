// Reference batch normalisation over (n, h, w) per channel, in double. With a 16-bit input the
// per-channel tensors are float32 (host::StatisticsType).
#include <cmath>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"
#include "nnlab/core/update_rules.h"

namespace nnlab::reference {

void ReferenceBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                          const Tensor& running_mean, const Tensor& running_var,
                                          bool training, double momentum, double eps,
                                          const Tensor& y, const Tensor& save_mean,
                                          const Tensor& save_invstd) {
  int64_t n = x.dim(0), c = x.dim(1), plane = x.dim(2) * x.dim(3), count = n * plane;
  host::dispatch_all_floats(x.dtype(), "batch_norm_forward", [&](auto zero) {
    using T = decltype(zero);
    using P = host::StatisticsType<T>;
    const T* X = x.data<T>();
    for (int64_t ch = 0; ch < c; ++ch) {
      auto at = [&](int64_t i, int64_t j) { return (i * c + ch) * plane + j; };
      double mean = running_mean.data<P>()[ch], var = running_var.data<P>()[ch];
      if (training) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < plane; ++j) sum += X[at(i, j)];
        mean = sum / double(count);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < plane; ++j) sq += (X[at(i, j)] - mean) * (X[at(i, j)] - mean);
        var = sq / double(count);
        rules::update_running_stats(running_mean.data<P>()[ch], running_var.data<P>()[ch], mean, sq,
                                    count, momentum);
      }
      double invstd = 1.0 / std::sqrt(var + eps), g = weight.data<P>()[ch], b = bias.data<P>()[ch];
      save_mean.data<P>()[ch] = P(mean);
      save_invstd.data<P>()[ch] = P(invstd);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < plane; ++j)
          y.data<T>()[at(i, j)] = T((X[at(i, j)] - mean) * invstd * g + b);
    }
  });
}

// With batch statistics: dx = g * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)).
// With running statistics: dx = g * invstd * dy.
void ReferenceBackend::batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                           const Tensor& save_mean, const Tensor& save_invstd,
                                           bool batch_statistics, double /*eps: in save_invstd*/,
                                           const Tensor& dx, const Tensor& dweight,
                                           const Tensor& dbias) {
  int64_t n = x.dim(0), c = x.dim(1), plane = x.dim(2) * x.dim(3);
  double m = double(n * plane);
  host::dispatch_all_floats(x.dtype(), "batch_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    using P = host::StatisticsType<T>;
    const T *X = x.data<T>(), *DY = dy.data<T>();
    for (int64_t ch = 0; ch < c; ++ch) {
      auto at = [&](int64_t i, int64_t j) { return (i * c + ch) * plane + j; };
      double mean = save_mean.data<P>()[ch], invstd = save_invstd.data<P>()[ch],
             g = weight.data<P>()[ch];
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < plane; ++j) {
          sum_dy += DY[at(i, j)];
          sum_dy_xhat += DY[at(i, j)] * (X[at(i, j)] - mean) * invstd;
        }
      dbias.data<P>()[ch] = P(sum_dy);
      dweight.data<P>()[ch] = P(sum_dy_xhat);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < plane; ++j) {
          double xhat = (X[at(i, j)] - mean) * invstd;
          double d = batch_statistics ? (m * DY[at(i, j)] - sum_dy - xhat * sum_dy_xhat) / m
                                      : double(DY[at(i, j)]);
          dx.data<T>()[at(i, j)] = T(g * invstd * d);
        }
    }
  });
}

}  // namespace nnlab::reference
