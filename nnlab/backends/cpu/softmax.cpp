// Log-softmax, NLL and the fused cross-entropy backward, vectorised per row with Eigen and
// parallel over rows.
#include <cmath>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"

namespace nnlab::cpu {
namespace {
int64_t row_grain(const Tensor& t) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, t.dim(1)));
}
}  // namespace

void CpuBackend::log_softmax_forward(const Tensor& x, const Tensor& y) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::log_softmax_forward, x, y);
  host::dispatch_float(x.dtype(), "log_softmax_forward", [&](auto zero) {
    using T = decltype(zero);
    auto X = matrix<T>(x).array();
    auto Y = matrix<T>(y).array();
    parallel_chunks(x.dim(0), row_grain(x), threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T mx = X.row(i).maxCoeff();
        T log_total = mx + std::log((X.row(i) - mx).exp().sum());
        Y.row(i) = X.row(i) - log_total;
      }
    });
  });
}

void CpuBackend::log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) {
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dx}, &CpuBackend::log_softmax_backward, dy, y, dx);
  host::dispatch_float(dy.dtype(), "log_softmax_backward", [&](auto zero) {
    using T = decltype(zero);
    auto G = matrix<T>(dy).array();
    auto Y = matrix<T>(y).array();
    auto D = matrix<T>(dx).array();
    parallel_chunks(dy.dim(0), row_grain(dy), threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) D.row(i) = G.row(i) - Y.row(i).exp() * G.row(i).sum();
    });
  });
}

void CpuBackend::nll_loss_forward(const Tensor& logp, const Tensor& labels, const Tensor& out) {
  if (is_reduced_float(logp.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::nll_loss_forward, logp, labels, out);
  int64_t n = logp.dim(0), c = logp.dim(1);
  host::dispatch_float(logp.dtype(), "nll_loss_forward", [&](auto zero) {
    using T = decltype(zero);
    double total = 0;  // n terms, sequential: cheap, and the order is fixed
    for (int64_t i = 0; i < n; ++i) total -= logp.data<T>()[i * c + labels.data<int32_t>()[i]];
    out.data<T>()[0] = T(total / double(n));
  });
}

void CpuBackend::nll_loss_backward(const Tensor& dout, const Tensor& labels, const Tensor& dlogp) {
  if (is_reduced_float(dlogp.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dlogp}, &CpuBackend::nll_loss_backward, dout, labels, dlogp);
  int64_t n = dlogp.dim(0), c = dlogp.dim(1);
  host::dispatch_float(dlogp.dtype(), "nll_loss_backward", [&](auto zero) {
    using T = decltype(zero);
    array<T>(dlogp).setZero();
    T value = T(-double(dout.data<T>()[0]) / double(n));
    for (int64_t i = 0; i < n; ++i) dlogp.data<T>()[i * c + labels.data<int32_t>()[i]] = value;
  });
}

void CpuBackend::cross_entropy_backward(const Tensor& dout, const Tensor& logp,
                                        const Tensor& labels, const Tensor& dlogits) {
  if (is_reduced_float(logp.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dlogits}, &CpuBackend::cross_entropy_backward,
                   dout, logp, labels, dlogits);
  int64_t n = logp.dim(0);
  host::dispatch_float(logp.dtype(), "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    T g = T(double(dout.data<T>()[0]) / double(n));
    auto P = matrix<T>(logp).array();
    auto D = matrix<T>(dlogits).array();
    const int32_t* L = labels.data<int32_t>();
    parallel_chunks(n, row_grain(logp), threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        D.row(i) = P.row(i).exp() * g;
        D(i, L[i]) -= g;
      }
    });
  });
}

void CpuBackend::argmax(const Tensor& x, const Tensor& out) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {}, &CpuBackend::argmax, x, out);
  int64_t n = x.dim(0), c = x.dim(1);
  host::dispatch_float(x.dtype(), "argmax", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < n; ++i) {  // the first maximum wins, as torch.argmax
      const T* row = x.data<T>() + i * c;
      out.data<int32_t>()[i] = int32_t(std::max_element(row, row + c) - row);
    }
  });
}

}  // namespace nnlab::cpu
