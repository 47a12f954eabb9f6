// Dtype dispatch shared by the CPU backends.
#pragma once
#include <stdexcept>
#include <string>
#include <type_traits>

#include "nnlab/core/tensor.h"

namespace nnlab::host {

[[noreturn]] inline void unsupported_dtype(const char* op, DType dtype, const char* expected) {
  throw std::invalid_argument(std::string(op) + ": needs a " + expected + " tensor, got " +
                              dtype_name(dtype));
}

// Calls f(T{}) with T the C++ type of a float32 or float64 dtype: the types the CPU backends
// compute in.
template <typename F>
void dispatch_float(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::F32:
      f(float{});
      return;
    case DType::F64:
      f(double{});
      return;
    default:
      unsupported_dtype(op, dtype, "float32 or float64");
  }
}

// The same over every floating dtype, the 16-bit ones included (Half and BFloat16: storage
// types whose values convert to float for arithmetic and round when stored).
template <typename F>
void dispatch_all_floats(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::F16:
      f(Half{});
      return;
    case DType::BF16:
      f(BFloat16{});
      return;
    default:
      dispatch_float(dtype, op, f);
  }
}

// The dtype the per-channel tensors of batch norm have beside an input of `x`: float32 for
// the 16-bit floats (statistics and parameters in float32, as cuDNN's and PyTorch's mixed
// batch norm), x's own otherwise. The C++ type: its type when T is x's.
template <typename T>
using StatisticsType = std::conditional_t<std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>, float, T>;

}  // namespace nnlab::host
