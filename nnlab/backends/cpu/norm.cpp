// Batch normalisation, parallel over channels (each channel's statistics are independent);
// sums accumulate in double per channel, in a fixed order.
#include <cmath>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"
#include "nnlab/core/update_rules.h"

namespace nnlab::cpu {
namespace {
template <typename T>
using Plane = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using MutablePlane = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
}  // namespace

void CpuBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                    const Tensor& running_mean, const Tensor& running_var,
                                    bool training, double momentum, double eps, const Tensor& y,
                                    const Tensor& save_mean, const Tensor& save_invstd) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::batch_norm_forward,
                   x, weight, bias, running_mean, running_var, training, momentum, eps, y,
                   save_mean, save_invstd);
  int64_t n = x.dim(0), c = x.dim(1), plane = x.dim(2) * x.dim(3), count = n * plane;
  host::dispatch_float(x.dtype(), "batch_norm_forward", [&](auto zero) {
    using T = decltype(zero);
    parallel_chunks(c, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t ch = lo; ch < hi; ++ch) {
        auto in = [&](int64_t i) { return Plane<T>(x.data<T>() + (i * c + ch) * plane, plane); };
        double mean = running_mean.data<T>()[ch], var = running_var.data<T>()[ch];
        if (training) {
          double sum = 0, sq = 0;
          for (int64_t i = 0; i < n; ++i) sum += in(i).template cast<double>().sum();
          mean = sum / double(count);
          for (int64_t i = 0; i < n; ++i)
            sq += (in(i).template cast<double>() - mean).square().sum();
          var = sq / double(count);
          rules::update_running_stats(running_mean.data<T>()[ch], running_var.data<T>()[ch], mean,
                                      sq, count, momentum);
        }
        double invstd = 1.0 / std::sqrt(var + eps);
        save_mean.data<T>()[ch] = T(mean);
        save_invstd.data<T>()[ch] = T(invstd);
        T scale = T(invstd * double(weight.data<T>()[ch]));
        T shift = T(double(bias.data<T>()[ch]) - mean * invstd * double(weight.data<T>()[ch]));
        for (int64_t i = 0; i < n; ++i)
          MutablePlane<T>(y.data<T>() + (i * c + ch) * plane, plane) = in(i)*scale + shift;
      }
    });
  });
}

void CpuBackend::batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                     const Tensor& save_mean, const Tensor& save_invstd,
                                     bool batch_statistics, double /*eps: in save_invstd*/,
                                     const Tensor& dx, const Tensor& dweight, const Tensor& dbias) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dx}, &CpuBackend::batch_norm_backward,
                   dy, x, weight, save_mean, save_invstd, batch_statistics, 0.0, dx, dweight,
                   dbias);
  int64_t n = x.dim(0), c = x.dim(1), plane = x.dim(2) * x.dim(3);
  double m = double(n * plane);
  host::dispatch_float(x.dtype(), "batch_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    parallel_chunks(c, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t ch = lo; ch < hi; ++ch) {
        double mean = save_mean.data<T>()[ch], invstd = save_invstd.data<T>()[ch],
               g = weight.data<T>()[ch];
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int64_t i = 0; i < n; ++i) {
          auto d = Plane<T>(dy.data<T>() + (i * c + ch) * plane, plane).template cast<double>();
          auto xs = Plane<T>(x.data<T>() + (i * c + ch) * plane, plane).template cast<double>();
          sum_dy += d.sum();
          sum_dy_xhat += (d * (xs - mean)).sum() * invstd;
        }
        dbias.data<T>()[ch] = T(sum_dy);
        dweight.data<T>()[ch] = T(sum_dy_xhat);
        // dx = k * (dy - a - xhat * b): batch statistics subtract their own gradient's share.
        double k = g * invstd, a = batch_statistics ? sum_dy / m : 0,
               b = batch_statistics ? sum_dy_xhat / m : 0;
        for (int64_t i = 0; i < n; ++i) {
          auto d = Plane<T>(dy.data<T>() + (i * c + ch) * plane, plane);
          auto xs = Plane<T>(x.data<T>() + (i * c + ch) * plane, plane);
          MutablePlane<T>(dx.data<T>() + (i * c + ch) * plane, plane) =
              (k *
               (d.template cast<double>() - a - (xs.template cast<double>() - mean) * invstd * b))
                  .template cast<T>();
        }
      }
    });
  });
}

}  // namespace nnlab::cpu
