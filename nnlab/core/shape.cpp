#include "nnlab/core/shape.h"

#include <stdexcept>

namespace nnlab {

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) {
    if (d < 0) throw std::invalid_argument("shape " + str() + " has a negative dimension");
    n *= d;
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (size_t i = 0; i < dims_.size(); ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + "]";
}

}  // namespace nnlab
