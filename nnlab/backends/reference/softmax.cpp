// Log-softmax, NLL and the fused cross-entropy backward, row by row over [n, c].
#include <cmath>
#include <stdexcept>
#include <string>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"

namespace nnlab::reference {
void ReferenceBackend::log_softmax_forward(const Tensor& x, const Tensor& y) {
  int64_t n = x.dim(0), c = x.dim(1);
  host::dispatch_all_floats(x.dtype(), "log_softmax_forward", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < n; ++i) {
      const T* row = x.data<T>() + i * c;
      double mx = row[0], total = 0;
      for (int64_t j = 1; j < c; ++j) mx = std::max(mx, double(row[j]));
      for (int64_t j = 0; j < c; ++j) total += std::exp(double(row[j]) - mx);
      double log_total = mx + std::log(total);
      for (int64_t j = 0; j < c; ++j) y.data<T>()[i * c + j] = T(row[j] - log_total);
    }
  });
}

// dx = dy - softmax * sum(dy) per row, with softmax = exp(y).
void ReferenceBackend::log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) {
  int64_t n = dy.dim(0), c = dy.dim(1);
  host::dispatch_all_floats(dy.dtype(), "log_softmax_backward", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < n; ++i) {
      const T *g = dy.data<T>() + i * c, *out = y.data<T>() + i * c;
      double total = 0;
      for (int64_t j = 0; j < c; ++j) total += g[j];
      for (int64_t j = 0; j < c; ++j)
        dx.data<T>()[i * c + j] = T(g[j] - std::exp(double(out[j])) * total);
    }
  });
}

void ReferenceBackend::nll_loss_forward(const Tensor& logp, const Tensor& labels,
                                        const Tensor& out) {
  int64_t n = logp.dim(0), c = logp.dim(1);
  host::dispatch_all_floats(logp.dtype(), "nll_loss_forward", [&](auto zero) {
    using T = decltype(zero);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total -= logp.data<T>()[i * c + labels.data<int32_t>()[i]];
    out.data<T>()[0] = T(total / double(n));
  });
}

void ReferenceBackend::nll_loss_backward(const Tensor& dout, const Tensor& labels,
                                         const Tensor& dlogp) {
  int64_t n = dlogp.dim(0), c = dlogp.dim(1);
  host::dispatch_all_floats(dlogp.dtype(), "nll_loss_backward", [&](auto zero) {
    using T = decltype(zero);
    T* D = dlogp.data<T>();
    T value = T(-double(dout.data<T>()[0]) / double(n));
    for (int64_t i = 0; i < n * c; ++i) D[i] = T(0);
    for (int64_t i = 0; i < n; ++i) D[i * c + labels.data<int32_t>()[i]] = value;
  });
}

void ReferenceBackend::cross_entropy_backward(const Tensor& dout, const Tensor& logp,
                                              const Tensor& labels, const Tensor& dlogits) {
  int64_t n = logp.dim(0), c = logp.dim(1);
  host::dispatch_all_floats(logp.dtype(), "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    double g = double(dout.data<T>()[0]) / double(n);
    for (int64_t i = 0; i < n; ++i) {
      int32_t label = labels.data<int32_t>()[i];
      for (int64_t j = 0; j < c; ++j) {
        double p = std::exp(double(logp.data<T>()[i * c + j]));
        dlogits.data<T>()[i * c + j] = T(g * (p - (j == label ? 1.0 : 0.0)));
      }
    }
  });
}

// The first maximum wins on ties, as torch.argmax.
void ReferenceBackend::argmax(const Tensor& x, const Tensor& out) {
  int64_t n = x.dim(0), c = x.dim(1);
  host::dispatch_all_floats(x.dtype(), "argmax", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < n; ++i) {
      const T* row = x.data<T>() + i * c;
      int64_t best = 0;
      for (int64_t j = 1; j < c; ++j)
        if (row[j] > row[best]) best = j;
      out.data<int32_t>()[i] = int32_t(best);
    }
  });
}

}  // namespace nnlab::reference
