#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"
#include "nnlab/core/philox.h"

namespace nnlab::cpu {

void CpuBackend::fill(const Tensor& t, double value) {
  if (is_reduced_float(t.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {t}, &CpuBackend::fill, t, value);
  if (t.dtype() == DType::I32) {
    std::fill(t.data<int32_t>(), t.data<int32_t>() + t.numel(), int32_t(value));
    return;
  }
  host::dispatch_float(t.dtype(), "fill", [&](auto zero) {
    using T = decltype(zero);
    array<T>(t).setConstant(T(value));
  });
}

// Element i takes Philox counter offset + i, so the numbers equal reference's exactly.
void CpuBackend::fill_uniform(const Tensor& t, double low, double high, uint64_t seed,
                              uint64_t offset) {
  if (is_reduced_float(t.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {t}, &CpuBackend::fill_uniform, t, low, high, seed, offset);
  host::dispatch_float(t.dtype(), "fill_uniform", [&](auto zero) {
    using T = decltype(zero);
    T* p = t.data<T>();
    parallel_chunks(t.numel(), kElementGrain, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        p[i] = T(philox::uniform(seed, offset + uint64_t(i), low, high));
    });
  });
}

void CpuBackend::fill_normal(const Tensor& t, double mean, double std, uint64_t seed,
                             uint64_t offset) {
  if (is_reduced_float(t.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {t}, &CpuBackend::fill_normal, t, mean, std, seed, offset);
  host::dispatch_float(t.dtype(), "fill_normal", [&](auto zero) {
    using T = decltype(zero);
    T* p = t.data<T>();
    parallel_chunks(t.numel(), kElementGrain, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        p[i] = T(philox::normal(seed, offset + uint64_t(i), mean, std));
    });
  });
}

}  // namespace nnlab::cpu

namespace nnlab::cpu {

void CpuBackend::dropout_mask(const Tensor& mask, double p, uint64_t seed, uint64_t offset) {
  if (is_reduced_float(mask.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {mask}, &CpuBackend::dropout_mask, mask, p, seed, offset);
  host::dispatch_float(mask.dtype(), "dropout_mask", [&](auto zero) {
    using T = decltype(zero);
    T* out = mask.data<T>();
    T keep = T(1.0 / (1.0 - p));
    parallel_chunks(mask.numel(), kElementGrain, threads_, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        out[i] = philox::uniform(seed, offset + uint64_t(i), 0, 1) < p ? T(0) : keep;
    });
  });
}

}  // namespace nnlab::cpu
