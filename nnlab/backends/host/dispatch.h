// Dtype dispatch shared by the CPU backends.
#pragma once
#include <stdexcept>
#include <string>

#include "nnlab/core/tensor.h"

namespace nnlab::host {

// Calls f(T{}) with T the C++ type of a floating dtype.
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
      throw std::invalid_argument(std::string(op) + ": needs a floating tensor, got " +
                                  dtype_name(dtype));
  }
}

}  // namespace nnlab::host
