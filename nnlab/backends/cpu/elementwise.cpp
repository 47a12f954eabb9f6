#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"

namespace nnlab::cpu {
namespace {
// out[i] = f(a[i], b[i]) over vectorised chunks; a and b may be the same tensor.
template <typename T, typename F>
void binary(const Tensor& a, const Tensor& b, const Tensor& out, int threads, F f) {
  const T *A = a.data<T>(), *B = b.data<T>();
  T* O = out.data<T>();
  parallel_chunks(a.numel(), kElementGrain, threads, [&](int64_t lo, int64_t hi) {
    using Vec = Eigen::Array<T, Eigen::Dynamic, 1>;
    Eigen::Map<const Vec> x(A + lo, hi - lo), y(B + lo, hi - lo);
    Eigen::Map<Vec>(O + lo, hi - lo) = f(x, y);
  });
}
}  // namespace

void CpuBackend::bias_add(const Tensor& y, const Tensor& bias) {
  if (is_reduced_float(y.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::bias_add, y, bias);
  host::dispatch_float(y.dtype(), "bias_add", [&](auto zero) {
    using T = decltype(zero);
    auto Y = matrix<T>(y);
    Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> b(bias.data<T>(), y.dim(1));
    int64_t grain = std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, y.dim(1)));
    parallel_chunks(y.dim(0), grain, threads_,
                    [&](int64_t lo, int64_t hi) { Y.middleRows(lo, hi - lo).rowwise() += b; });
  });
}

void CpuBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (is_reduced_float(a.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::add, a, b, out);
  host::dispatch_float(a.dtype(), "add", [&](auto zero) {
    binary<decltype(zero)>(a, b, out, threads_, [](const auto& x, const auto& y) { return x + y; });
  });
}

void CpuBackend::mul(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (is_reduced_float(a.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::mul, a, b, out);
  host::dispatch_float(a.dtype(), "mul", [&](auto zero) {
    binary<decltype(zero)>(a, b, out, threads_, [](const auto& x, const auto& y) { return x * y; });
  });
}

void CpuBackend::scale(const Tensor& x, double alpha, const Tensor& out) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::scale, x, alpha, out);
  host::dispatch_float(x.dtype(), "scale", [&](auto zero) {
    using T = decltype(zero);
    binary<T>(x, x, out, threads_, [alpha](const auto& v, const auto&) { return v * T(alpha); });
  });
}

void CpuBackend::expand_scalar(const Tensor& scalar, double alpha, const Tensor& out) {
  if (is_reduced_float(out.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::expand_scalar, scalar, alpha, out);
  host::dispatch_float(out.dtype(), "expand_scalar", [&](auto zero) {
    using T = decltype(zero);
    array<T>(out).setConstant(T(alpha * scalar.data<T>()[0]));
  });
}

void CpuBackend::relu_forward(const Tensor& x, const Tensor& y) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {y}, &CpuBackend::relu_forward, x, y);
  host::dispatch_float(x.dtype(), "relu_forward", [&](auto zero) {
    using T = decltype(zero);
    binary<T>(x, x, y, threads_, [](const auto& v, const auto&) { return v.max(T(0)); });
  });
}

void CpuBackend::relu_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) {
  if (is_reduced_float(dy.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {dx}, &CpuBackend::relu_backward, dy, y, dx);
  host::dispatch_float(dy.dtype(), "relu_backward", [&](auto zero) {
    using T = decltype(zero);
    binary<T>(dy, y, dx, threads_,
              [](const auto& g, const auto& out) { return (out > T(0)).select(g, T(0)); });
  });
}

}  // namespace nnlab::cpu
