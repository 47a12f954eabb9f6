// Helpers shared by the CPU backends: dtype dispatch and label validation.
#pragma once
#include <stdexcept>
#include <string>

#include "core/tensor.h"

namespace nnlab::cpu {

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

// labels[i], checked to lie in [0, classes): a bad label is an error naming its position.
inline int32_t checked_label(const Tensor& labels, int64_t i, int64_t classes) {
  int32_t label = labels.data<int32_t>()[i];
  if (label < 0 || label >= classes)
    throw std::out_of_range("label " + std::to_string(label) + " at batch index " +
                            std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
  return label;
}

}  // namespace nnlab::cpu
