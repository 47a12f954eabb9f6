#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"
#include "nnlab/core/philox.h"

namespace nnlab::reference {

void ReferenceBackend::fill(const Tensor& t, double value) {
  if (t.dtype() == DType::I32) {
    for (int64_t i = 0; i < t.numel(); ++i) t.data<int32_t>()[i] = int32_t(value);
    return;
  }
  host::dispatch_all_floats(t.dtype(), "fill", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = T(value);
  });
}

void ReferenceBackend::fill_uniform(const Tensor& t, double low, double high, uint64_t seed,
                                    uint64_t offset) {
  host::dispatch_all_floats(t.dtype(), "fill_uniform", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<T>()[i] = T(philox::uniform(seed, offset + uint64_t(i), low, high));
  });
}

void ReferenceBackend::fill_normal(const Tensor& t, double mean, double std, uint64_t seed,
                                   uint64_t offset) {
  host::dispatch_all_floats(t.dtype(), "fill_normal", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<T>()[i] = T(philox::normal(seed, offset + uint64_t(i), mean, std));
  });
}

}  // namespace nnlab::reference

namespace nnlab::reference {

void ReferenceBackend::dropout_mask(const Tensor& mask, double p, uint64_t seed, uint64_t offset) {
  host::dispatch_all_floats(mask.dtype(), "dropout_mask", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t i = 0; i < mask.numel(); ++i)
      mask.data<T>()[i] =
          philox::uniform(seed, offset + uint64_t(i), 0, 1) < p ? T(0) : T(1.0 / (1.0 - p));
  });
}

}  // namespace nnlab::reference
