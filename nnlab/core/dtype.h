// Element types a Tensor can hold: float32 everywhere, float64 for gradient checks, int32
// for labels and indices.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nnlab {

enum class DType { F32, F64, I32 };

inline size_t dtype_size(DType t) {
  return t == DType::F64 ? 8 : 4;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "float32";
    case DType::F64:
      return "float64";
    case DType::I32:
      return "int32";
  }
  return "?";
}

inline bool is_floating(DType t) {
  return t == DType::F32 || t == DType::F64;
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

}  // namespace nnlab
