// The cpu backend's float16 and bfloat16 path, kept apart from its float32 code: an op on
// 16-bit tensors runs the backend's own float32 implementation on widened copies, and what it
// wrote is rounded back to 16 bits, once per element (nearest even). That is what mixed
// precision asks of a CPU -- 16-bit storage, float32 arithmetic -- with the float32 kernels'
// speed less two conversion passes. (Eigen's own half and bfloat16 types would round after
// every operation of an expression instead.) The copies are tensors of the backend, so peak
// memory counts them while the op runs.
#pragma once
#include <initializer_list>
#include <utility>
#include <vector>

#include "nnlab/backends/cpu/backend.h"

namespace nnlab::cpu {

// Float32 copies of the 16-bit tensors of one call, one per tensor however often it is passed.
class Widened {
 public:
  explicit Widened(CpuBackend& backend) : backend_(backend) {}
  Tensor pass(const Tensor& t);  // the float32 copy of a 16-bit tensor; any other as it is
  template <typename T>
  T&& pass(T&& value) {  // the op's other arguments (flags, scalars, windows), untouched
    return std::forward<T>(value);
  }
  void write_back(const Tensor& t);  // rounds t's float32 copy into t

 private:
  CpuBackend& backend_;
  std::vector<std::pair<Tensor, Tensor>> copies_;  // (16-bit tensor, its float32 copy)
};

// Calls `op` of `backend` with its 16-bit tensor arguments widened, then rounds the tensors it
// writes (`written`) back into them. Each op of the backend starts with such a call when its
// tensors are 16-bit: `if (is_reduced_float(x.dtype())) return widened(*this, {y}, &CpuBackend::op, args...);`.
template <typename... Params, typename... Args>
void widened(CpuBackend& backend, std::initializer_list<Tensor> written,
             void (CpuBackend::*op)(Params...), Args&&... args) {
  Widened copies(backend);
  (backend.*op)(copies.pass(std::forward<Args>(args))...);
  for (const Tensor& t : written) copies.write_back(t);
}

}  // namespace nnlab::cpu
