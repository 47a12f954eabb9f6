// The cpu backend's 16-bit path (float16.h) and its conversions between floating dtypes.
#include "nnlab/backends/cpu/float16.h"

#include "nnlab/backends/cpu/common.h"

namespace nnlab::cpu {
namespace {
// Converts n elements in fixed chunks, in parallel (the chunks depend only on n).
template <typename From, typename To>
void convert(const From* in, To* out, int64_t n, int threads) {
  parallel_chunks(n, kElementGrain, threads, [&](int64_t lo, int64_t hi) {
    if constexpr (std::is_same_v<To, float> && !std::is_same_v<From, float> && !std::is_same_v<From, double>)
      to_float(in + lo, out + lo, size_t(hi - lo));
    else if constexpr (std::is_same_v<From, float> && !std::is_same_v<To, float> && !std::is_same_v<To, double>)
      from_float(in + lo, out + lo, size_t(hi - lo));
    else  // through double: exact for every source, one rounding into the target
      for (int64_t i = lo; i < hi; ++i) out[i] = To(double(in[i]));
  });
}
}  // namespace

Tensor Widened::pass(const Tensor& t) {
  if (!t.defined() || !is_reduced_float(t.dtype())) return t;
  for (const auto& [original, copy] : copies_)
    if (original.impl_ptr() == t.impl_ptr()) return copy;
  Tensor copy = Tensor::empty(t.shape(), DType::F32, backend_);
  backend_.cast(t, copy);
  copies_.emplace_back(t, copy);
  return copy;
}

void Widened::write_back(const Tensor& t) {
  for (const auto& [original, copy] : copies_)
    if (original.impl_ptr() == t.impl_ptr()) return backend_.cast(copy, t);
}

void CpuBackend::cast(const Tensor& x, const Tensor& out) {
  host::dispatch_all_floats(x.dtype(), "cast", [&](auto from) {
    host::dispatch_all_floats(out.dtype(), "cast", [&](auto to) {
      using From = decltype(from);
      using To = decltype(to);
      convert(x.data<From>(), out.data<To>(), x.numel(), threads_);
    });
  });
}

}  // namespace nnlab::cpu
