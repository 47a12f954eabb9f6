// Element types a Tensor can hold: float32 everywhere, float64 for gradient checks, int32
// for labels and indices, and the 16-bit floats of mixed precision, float16 and bfloat16
// (nnlab/core/float16.h; nnlab/core/autocast.h says where training uses them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "nnlab/core/float16.h"

namespace nnlab {

enum class DType { F32, F64, I32, F16, BF16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
      return 8;
    case DType::F16:
    case DType::BF16:
      return 2;
    default:
      return 4;
  }
}

// PyTorch's names.
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "float32";
    case DType::F64:
      return "float64";
    case DType::I32:
      return "int32";
    case DType::F16:
      return "float16";
    case DType::BF16:
      return "bfloat16";
  }
  return "?";
}

inline bool is_floating(DType t) {
  return t != DType::I32;
}

// float16 and bfloat16: storage formats whose arithmetic runs in float32 (torch's
// is_reduced_floating_point).
inline bool is_reduced_float(DType t) {
  return t == DType::F16 || t == DType::BF16;
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<Half>() {
  return DType::F16;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::BF16;
}

}  // namespace nnlab
