#include <algorithm>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"

namespace nnlab::reference {

void ReferenceBackend::bias_add(const Tensor& y, const Tensor& bias) {
  int64_t n = y.dim(0), m = y.dim(1);
  host::dispatch_all_floats(y.dtype(), "bias_add", [&](auto zero) {
    using T = decltype(zero);
    T* Y = y.data<T>();
    const T* b = bias.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) Y[i * m + j] = T(Y[i * m + j] + b[j]);
  });
}

void ReferenceBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  host::dispatch_all_floats(a.dtype(), "add", [&](auto zero) {
    using T = decltype(zero);
    const T *A = a.data<T>(), *B = b.data<T>();
    T* O = out.data<T>();
    for (int64_t i = 0; i < a.numel(); ++i) O[i] = T(A[i] + B[i]);
  });
}

void ReferenceBackend::mul(const Tensor& a, const Tensor& b, const Tensor& out) {
  host::dispatch_all_floats(a.dtype(), "mul", [&](auto zero) {
    using T = decltype(zero);
    const T *A = a.data<T>(), *B = b.data<T>();
    T* O = out.data<T>();
    for (int64_t i = 0; i < a.numel(); ++i) O[i] = T(A[i] * B[i]);
  });
}

void ReferenceBackend::scale(const Tensor& x, double alpha, const Tensor& out) {
  host::dispatch_all_floats(x.dtype(), "scale", [&](auto zero) {
    using T = decltype(zero);
    const T* X = x.data<T>();
    T* O = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) O[i] = T(alpha * X[i]);
  });
}

void ReferenceBackend::expand_scalar(const Tensor& scalar, double alpha, const Tensor& out) {
  host::dispatch_all_floats(out.dtype(), "expand_scalar", [&](auto zero) {
    using T = decltype(zero);
    T value = T(alpha * scalar.data<T>()[0]);
    std::fill(out.data<T>(), out.data<T>() + out.numel(), value);
  });
}

void ReferenceBackend::relu_forward(const Tensor& x, const Tensor& y) {
  host::dispatch_all_floats(x.dtype(), "relu_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* X = x.data<T>();
    T* Y = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) Y[i] = X[i] > 0 ? X[i] : T(0);
  });
}

// Through double, which holds every value of every floating dtype exactly: one rounding.
void ReferenceBackend::cast(const Tensor& x, const Tensor& out) {
  host::dispatch_all_floats(x.dtype(), "cast", [&](auto from) {
    host::dispatch_all_floats(out.dtype(), "cast", [&](auto to) {
      using From = decltype(from);
      using To = decltype(to);
      const From* X = x.data<From>();
      To* O = out.data<To>();
      for (int64_t i = 0; i < x.numel(); ++i) O[i] = To(double(X[i]));
    });
  });
}

// The gradient passes where the output is positive (PyTorch's rule: zero at x == 0).
void ReferenceBackend::relu_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) {
  host::dispatch_all_floats(dy.dtype(), "relu_backward", [&](auto zero) {
    using T = decltype(zero);
    const T *DY = dy.data<T>(), *Y = y.data<T>();
    T* DX = dx.data<T>();
    for (int64_t i = 0; i < dy.numel(); ++i) DX[i] = Y[i] > 0 ? DY[i] : T(0);
  });
}

}  // namespace nnlab::reference
