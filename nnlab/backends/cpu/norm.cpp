// Batch normalisation, parallel over channels (each channel's statistics are independent).
// Sums are taken in blocks of 256 values, each block summed in vector lanes of the tensor's
// type (256 / W terms a lane; values short of a whole vector, all of them in planes of fewer
// than W, in one more lane of their own) and the blocks added in double, in a fixed order, so
// nothing depends on the thread count. The elementwise parts run in the tensor's type.
// (Converting every value to double, as this file did before, made batch norm a tenth of a
// ResNet-18 step: see the commit.)
#include <algorithm>
#include <cmath>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"
#include "nnlab/backends/cpu/simd.h"
#include "nnlab/core/update_rules.h"

namespace nnlab::cpu {
namespace {
template <typename T>
using Plane = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using MutablePlane = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

// Sums in blocks: values go into vector lanes of T (or, short of a whole vector, a scalar of T)
// until a block holds kBlock of them, then the block's total joins a sum in double. Blocks run
// across the planes of a channel, so that planes of 4 values (ResNet-18's last stage at 64x64)
// are not each reduced alone.
template <typename T, int kSums>
class BlockSums {
 public:
  using S = simd::Vec<T>;
  using V = typename S::V;
  static constexpr int64_t kBlock = 256;

  BlockSums() { clear_block(); }
  // vector_term(i, acc) adds the terms of values [i, i + W) to acc[0, kSums);
  // scalar_term(i, tail) those of value i to tail[0, kSums).
  template <typename VectorTerm, typename ScalarTerm>
  void add(int64_t count, VectorTerm vector_term, ScalarTerm scalar_term) {
    for (int64_t j = 0; j < count;) {
      const int64_t end = j + std::min(count - j, kBlock - filled_);
      int64_t i = j;
      for (; i + S::kWidth <= end; i += S::kWidth) vector_term(i, acc_);
      for (; i < end; ++i) scalar_term(i, tail_);
      filled_ += end - j;
      j = end;
      if (filled_ == kBlock) flush();
    }
  }
  double total(int sum) {
    flush();
    return total_[sum];
  }

 private:
  void clear_block() {
    for (int s = 0; s < kSums; ++s) acc_[s] = S::zero(), tail_[s] = T(0);
    filled_ = 0;
  }
  void flush() {
    for (int s = 0; s < kSums; ++s) {
      alignas(64) T lanes[S::kWidth];
      S::store(lanes, acc_[s]);
      double block = double(tail_[s]);
      for (T lane : lanes) block += double(lane);
      total_[s] += block;
    }
    clear_block();
  }

  V acc_[kSums];
  T tail_[kSums];
  int64_t filled_ = 0;
  double total_[kSums] = {};
};
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
          using Sums = BlockSums<T, 1>;
          using S = typename Sums::S;
          using V = typename Sums::V;
          Sums values;
          for (int64_t i = 0; i < n; ++i) {
            const T* p = in(i).data();
            values.add(plane, [&](int64_t j, V* acc) { acc[0] = S::add(acc[0], S::load(p + j)); },
                       [&](int64_t j, T* tail) { tail[0] += p[j]; });
          }
          mean = values.total(0) / double(count);
          // Deviations from the mean rounded to T: their squares' sum exceeds the exact one by
          // count (mean - T(mean))^2, far below its own rounding.
          const T mu = T(mean);
          const V m = S::broadcast(mu);
          Sums squares;
          for (int64_t i = 0; i < n; ++i) {
            const T* p = in(i).data();
            squares.add(plane,
                        [&](int64_t j, V* acc) {
                          const V d = S::sub(S::load(p + j), m);
                          acc[0] = S::fma(d, d, acc[0]);
                        },
                        [&](int64_t j, T* tail) { tail[0] += (p[j] - mu) * (p[j] - mu); });
          }
          const double sq = squares.total(0);
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
  const double count = double(n * plane);
  host::dispatch_float(x.dtype(), "batch_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    parallel_chunks(c, 1, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t ch = lo; ch < hi; ++ch) {
        double mean = save_mean.data<T>()[ch], invstd = save_invstd.data<T>()[ch],
               g = weight.data<T>()[ch];
        using Sums = BlockSums<T, 2>;  // of dy, and of dy (x - mean)
        using S = typename Sums::S;
        using V = typename Sums::V;
        const T mu = T(mean);
        const V m = S::broadcast(mu);
        Sums sums;
        for (int64_t i = 0; i < n; ++i) {
          const T *d = dy.data<T>() + (i * c + ch) * plane, *xs = x.data<T>() + (i * c + ch) * plane;
          sums.add(plane,
                   [&](int64_t j, V* acc) {
                     const V grad = S::load(d + j);
                     acc[0] = S::add(acc[0], grad);
                     acc[1] = S::fma(grad, S::sub(S::load(xs + j), m), acc[1]);
                   },
                   [&](int64_t j, T* tail) {
                     tail[0] += d[j];
                     tail[1] += d[j] * (xs[j] - mu);
                   });
        }
        const double sum_dy = sums.total(0), sum_dy_xhat = sums.total(1) * invstd;
        dbias.data<T>()[ch] = T(sum_dy);
        dweight.data<T>()[ch] = T(sum_dy_xhat);
        // dx = k * (dy - a - xhat * b): batch statistics subtract their own gradient's share.
        const T k = T(g * invstd), a = T(batch_statistics ? sum_dy / count : 0),
                ib = T(batch_statistics ? invstd * sum_dy_xhat / count : 0);
        for (int64_t i = 0; i < n; ++i) {
          auto d = Plane<T>(dy.data<T>() + (i * c + ch) * plane, plane);
          auto xs = Plane<T>(x.data<T>() + (i * c + ch) * plane, plane);
          MutablePlane<T>(dx.data<T>() + (i * c + ch) * plane, plane) = k * ((d - a) - (xs - mu) * ib);
        }
      }
    });
  });
}

}  // namespace nnlab::cpu
