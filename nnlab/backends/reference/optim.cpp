#include <cmath>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"
#include "nnlab/core/update_rules.h"

namespace nnlab::reference {

void ReferenceBackend::sgd_update(const Tensor& param, const Tensor& grad, const Tensor& buf,
                                  const SgdParams& p, bool first_step) {
  host::dispatch_float(param.dtype(), "sgd_update", [&](auto zero) {
    using T = decltype(zero);
    T *P = param.data<T>(), *B = buf.data<T>();
    const T* G = grad.data<T>();
    T unused = 0;
    for (int64_t i = 0; i < param.numel(); ++i)
      P[i] = rules::sgd(P[i], G[i], p.momentum != 0 ? B[i] : unused, p.lr, p.momentum, p.dampening,
                        p.weight_decay, p.nesterov, first_step);
  });
}

void ReferenceBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                                   const Tensor& v, const AdamParams& p, int64_t step) {
  host::dispatch_float(param.dtype(), "adam_update", [&](auto zero) {
    using T = decltype(zero);
    T *P = param.data<T>(), *M = m.data<T>(), *V = v.data<T>();
    const T* G = grad.data<T>();
    rules::AdamCorrection c = rules::adam_correction(p.beta1, p.beta2, step);
    for (int64_t i = 0; i < param.numel(); ++i)
      P[i] = rules::adam(P[i], G[i], M[i], V[i], p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, c);
  });
}

void ReferenceBackend::amp_unscale(const Tensor& grad, double inv_scale, const Tensor& found_inf) {
  host::dispatch_float(grad.dtype(), "amp_unscale", [&](auto zero) {
    using T = decltype(zero);
    T* g = grad.data<T>();
    T factor = T(float(inv_scale));  // PyTorch keeps the scale's inverse in float32
    for (int64_t i = 0; i < grad.numel(); ++i) {
      if (!std::isfinite(g[i])) found_inf.data<float>()[0] = 1.0f;
      g[i] = g[i] * factor;
    }
  });
}

}  // namespace nnlab::reference
