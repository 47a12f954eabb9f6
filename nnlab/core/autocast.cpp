#include "nnlab/core/autocast.h"

#include <stdexcept>
#include <string>
#include <unordered_map>

#include "nnlab/core/ops.h"

namespace nnlab {
namespace {
thread_local bool t_enabled = false;
thread_local DType t_dtype = DType::F16;
thread_local int t_depth = 0;  // open guards: the cast cache lives until the outermost closes

// PyTorch's cast cache: the 16-bit copy of each leaf that requires grad (a parameter), so
// that a weight used twice in a forward pass is cast once and its two gradients meet in one
// cast node. Keyed by the parameter's storage and dtype; the entry keeps the parameter alive.
struct CachedCast {
  Tensor source, cast;
};
thread_local std::unordered_map<const TensorImpl*, CachedCast> t_cache;

int width(DType t) {
  return int(dtype_size(t));
}
}  // namespace

AutocastGuard::AutocastGuard(DType dtype, bool enabled)
    : previous_enabled_(t_enabled), previous_dtype_(t_dtype) {
  if (enabled && !is_reduced_float(dtype))
    throw std::invalid_argument(std::string("autocast: the dtype must be float16 or bfloat16, got ") +
                                dtype_name(dtype));
  if (enabled && t_enabled && dtype != t_dtype) t_cache.clear();  // another dtype inside
  t_enabled = enabled;
  t_dtype = dtype;
  ++t_depth;
}

AutocastGuard::~AutocastGuard() {
  t_enabled = previous_enabled_;
  t_dtype = previous_dtype_;
  if (--t_depth == 0) t_cache.clear();
}

bool autocast_enabled() {
  return t_enabled;
}
DType autocast_dtype() {
  return t_dtype;
}

namespace autocast {

Tensor to_lower(const Tensor& t) {
  if (!t_enabled || !t.defined() || t.dtype() == t_dtype ||
      !(t.dtype() == DType::F32 || is_reduced_float(t.dtype())))
    return t;
  bool cacheable = t.requires_grad() && !t.grad_fn();
  if (!cacheable) return ops::cast(t, t_dtype);
  auto it = t_cache.find(t.impl_ptr().get());
  if (it != t_cache.end()) return it->second.cast;
  Tensor cast = ops::cast(t, t_dtype);
  t_cache[t.impl_ptr().get()] = {t, cast};
  return cast;
}

Tensor to_float32(const Tensor& t) {
  if (!t_enabled || !t.defined() || !is_reduced_float(t.dtype())) return t;
  return ops::cast(t, DType::F32);
}

std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b) {
  if (!t_enabled || a.dtype() == b.dtype() || !is_floating(a.dtype()) || !is_floating(b.dtype()))
    return {a, b};
  // float16 with bfloat16 meets in float32, as in PyTorch: neither holds the other.
  DType wide = is_reduced_float(a.dtype()) && is_reduced_float(b.dtype())
                   ? DType::F32
                   : (width(a.dtype()) >= width(b.dtype()) ? a.dtype() : b.dtype());
  return {ops::cast(a, wide), ops::cast(b, wide)};
}

}  // namespace autocast
}  // namespace nnlab
