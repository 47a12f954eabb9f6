// Non-finite values (NaN, infinity) in training. With check_numerics on (--check-numerics),
// every op output autograd records and every gradient backward computes is copied to the host
// and checked, so the first op that produces a bad value is named: a debugging mode, several
// times slower. Without it, the apps check the loss once a step (it is on the host anyway).
#pragma once
#include <stdexcept>
#include <string>

#include "nnlab/core/tensor.h"

namespace nnlab {

class NumericsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void set_check_numerics(bool on);
bool check_numerics();

// Where the first NaN or infinity of a float tensor is, as "[i] = nan"; "" when all are finite
// (and for integer tensors).
std::string first_non_finite(const Tensor& t);

// Throws NumericsError "<what> holds a non-finite value: <shape>[i] = nan" unless all finite.
void require_finite(const Tensor& t, const std::string& what);

}  // namespace nnlab
