#include <cmath>
#include <vector>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/core/update_rules.h"

namespace nnlab::cpu {

void CpuBackend::sgd_update(const Tensor& param, const Tensor& grad, const Tensor& buf,
                            const SgdParams& p, bool first_step) {
  host::dispatch_float(param.dtype(), "sgd_update", [&](auto zero) {
    using T = decltype(zero);
    T *P = param.data<T>(), *B = buf.data<T>();
    const T* G = grad.data<T>();
    parallel_shares(param.numel(), kElementGrain, threads_, [&](int64_t lo, int64_t hi) {
      // Two loops, so that neither picks its buffer per element and both vectorise.
      if (p.momentum == 0) {
        for (int64_t i = lo; i < hi; ++i) {
          T no_buffer = 0;
          P[i] = rules::sgd(P[i], G[i], no_buffer, p.lr, 0.0, 0.0, p.weight_decay, false, false);
        }
      } else {
        for (int64_t i = lo; i < hi; ++i)
          P[i] = rules::sgd(P[i], G[i], B[i], p.lr, p.momentum, p.dampening, p.weight_decay,
                            p.nesterov, first_step);
      }
    });
  });
}

void CpuBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                             const Tensor& v, const AdamParams& p, int64_t step) {
  host::dispatch_float(param.dtype(), "adam_update", [&](auto zero) {
    using T = decltype(zero);
    T *P = param.data<T>(), *M = m.data<T>(), *V = v.data<T>();
    const T* G = grad.data<T>();
    rules::AdamCorrection c = rules::adam_correction(p.beta1, p.beta2, step);
    parallel_shares(param.numel(), kElementGrain, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        P[i] = rules::adam(P[i], G[i], M[i], V[i], p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, c);
    });
  });
}

// Chunks record a non-finite element each; the flag is set once, after them.
void CpuBackend::amp_unscale(const Tensor& grad, double inv_scale, const Tensor& found_inf) {
  host::dispatch_float(grad.dtype(), "amp_unscale", [&](auto zero) {
    using T = decltype(zero);
    T* g = grad.data<T>();
    T factor = T(float(inv_scale));
    int64_t n = grad.numel();
    std::vector<char> bad(size_t((n + kElementGrain - 1) / kElementGrain), 0);
    parallel_chunks(n, kElementGrain, threads_, [&](int64_t lo, int64_t hi) {
      bool any = false;
      for (int64_t i = lo; i < hi; ++i) {
        any = any || !std::isfinite(g[i]);
        g[i] *= factor;
      }
      bad[size_t(lo / kElementGrain)] = any;
    });
    for (char b : bad)
      if (b) found_inf.data<float>()[0] = 1.0f;
  });
}

}  // namespace nnlab::cpu
