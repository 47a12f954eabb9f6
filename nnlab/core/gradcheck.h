// Gradient check, as torch.autograd.gradcheck: the Jacobian that backward() computes for
// f(inputs), entry by entry, against central differences (f(x + eps) - f(x - eps)) / 2 eps,
// in float64 with PyTorch's default tolerances. Use it on `reference`, the test oracle, with
// small inputs: it evaluates f twice per input element and runs one backward per output
// element. Every op of the library passes it (tests/test_gradcheck.cpp); a custom op written
// with nnlab::record should too (examples/custom_op.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nnlab/core/tensor.h"

namespace nnlab {

struct GradcheckOptions {
  double eps = 1e-6;   // the perturbation of each input element
  double atol = 1e-5;  // an entry passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  size_t max_reported = 10;  // mismatches kept for the report
};

struct GradcheckMismatch {
  size_t input = 0;     // which input (index into the inputs)
  int64_t element = 0;  // flat index of the perturbed element of that input
  int64_t output = 0;   // flat index of the output element
  double analytic = 0, numeric = 0;
};

struct GradcheckResult {
  int64_t checked = 0;  // Jacobian entries compared
  int64_t failed = 0;
  std::vector<GradcheckMismatch> mismatches;  // the first max_reported of them
  bool ok() const { return checked > 0 && failed == 0; }
  // "" when ok(); otherwise how many entries failed and, per mismatch, the input, element,
  // output, both values and the tolerance it missed.
  std::string report() const;
  GradcheckOptions options;
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Checks d f(inputs) / d input for every input that requires grad; those must be float64
// leaves (std::invalid_argument naming the input otherwise). Their values are perturbed in
// place and restored. f must be deterministic: the same inputs give the same output.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace nnlab
