// The one table of op test cases. Gradient checks (float64, reference) and parity tests
// (every backend against reference) both run every case, as ggml's test-backend-ops does.
// A case builds its output from its inputs with core ops; tests reduce the output to a
// scalar with fixed random weights so that every output element shapes the gradient.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nnlab/core/tensor.h"

namespace nnlab::testing {

struct InputSpec {
  Shape shape;
  int64_t label_classes = 0;  // > 0: an int32 label tensor with values in [0, label_classes)
  // Batch norm's weight and bias: float32 even when the other inputs are 16-bit, as mixed
  // precision keeps them (ops.def's BatchNormForward).
  bool per_channel = false;
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> build;
};

const std::vector<OpCase>& op_cases();

// Inputs for a case on `backend` in `dtype` (labels stay int32; per-channel inputs float32
// when dtype is 16-bit), from a fixed seed: the same values, rounded to the dtype, whatever
// the backend.
std::vector<Tensor> make_inputs(const OpCase& c, Backend& backend, DType dtype, uint64_t seed,
                                bool requires_grad);

// sum(out * weights) with weights fixed by the output's shape (a fresh tensor per call),
// made in float32, rounded to `weights_dtype` (out's by default) and held in out's.
Tensor weighted_sum(const Tensor& out, DType weights_dtype);
inline Tensor weighted_sum(const Tensor& out) {
  return weighted_sum(out, out.dtype());
}

// Values of any floating tensor as double, for comparisons.
std::vector<double> as_doubles(const Tensor& t);

// The worst element of got against want, and the scale errors are measured against.
struct Discrepancy {
  double worst = 0;     // max |got - want|; NaN where either holds a NaN
  size_t at = 0;        // the element where it is
  double scale = 1e-6;  // max |want|, at least 1e-6
  double relative() const { return worst / scale; }
};
Discrepancy discrepancy(const std::vector<double>& got, const std::vector<double>& want);

// CHECKs max |got - want| <= rtol * max |want| (a NaN anywhere fails), reporting the worst
// element; the comparison of every parity test, against reference or against PyTorch.
void check_close(const std::string& what, const std::vector<double>& got,
                 const std::vector<double>& want, double rtol = 1e-4);

}  // namespace nnlab::testing
