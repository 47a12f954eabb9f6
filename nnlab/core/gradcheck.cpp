#include "nnlab/core/gradcheck.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"

namespace nnlab {
namespace {

std::vector<double> values_of(const Tensor& t, const char* what) {
  if (t.dtype() != DType::F64)
    throw std::invalid_argument(std::string("gradcheck: the ") + what + " is " +
                                dtype_name(t.dtype()) + "; it must be float64");
  return t.to_host<double>();
}

// Writes one element in place through the backend, so that any backend's memory works.
void set_element(const Tensor& t, int64_t i, double value) {
  t.backend().copy_from_host(static_cast<double*>(t.raw()) + i, &value, sizeof value);
}

std::vector<double> evaluate(const GradcheckFn& f, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  return values_of(f(inputs), "output");
}

}  // namespace

std::string GradcheckResult::report() const {
  if (ok()) return "";
  std::ostringstream os;
  os.precision(8);
  if (checked == 0) return "gradcheck: no Jacobian entry was compared";
  os << "gradcheck: " << failed << " of " << checked << " Jacobian entries differ by more than "
     << options.atol << " + " << options.rtol << " * |numeric|";
  for (const GradcheckMismatch& m : mismatches)
    os << "\n  input " << m.input << " element " << m.element << ", output element " << m.output
       << ": analytic " << m.analytic << ", numeric " << m.numeric;
  if (failed > int64_t(mismatches.size()))
    os << "\n  (" << failed - int64_t(mismatches.size()) << " more)";
  return os.str();
}

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  std::vector<size_t> checked_inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || !t.requires_grad()) continue;
    std::string what = "input " + std::to_string(i);
    if (t.grad_fn())
      throw std::invalid_argument("gradcheck: " + what + " is computed from other tensors; pass leaves");
    values_of(t, what.c_str());
    checked_inputs.push_back(i);
  }
  if (checked_inputs.empty())
    throw std::invalid_argument("gradcheck: no input requires grad (call set_requires_grad(true))");

  // The analytic Jacobian, one row per output element: backward seeded with that element's
  // one-hot vector. The graph is kept between backward calls, so f runs once here.
  Tensor out = f(inputs);
  if (!out.requires_grad())
    throw std::invalid_argument("gradcheck: the output does not depend on any input that requires grad");
  const int64_t outputs = out.numel();
  values_of(out, "output");
  std::vector<std::vector<std::vector<double>>> analytic(inputs.size());  // [input][output][element]
  for (int64_t o = 0; o < outputs; ++o) {
    for (size_t i : checked_inputs) inputs[i].set_grad(Tensor());
    std::vector<double> seed(size_t(outputs), 0.0);
    seed[size_t(o)] = 1.0;
    run_backward(out, Tensor::from_host(seed, out.shape(), out.backend()), /*retain_graph=*/true);
    for (size_t i : checked_inputs) {
      Tensor g = inputs[i].grad();  // undefined: the output does not depend on this input
      analytic[i].push_back(g.defined() ? g.to_host<double>()
                                        : std::vector<double>(size_t(inputs[i].numel()), 0.0));
    }
  }
  for (size_t i : checked_inputs) inputs[i].set_grad(Tensor());

  // The numeric Jacobian, one column per input element, compared as it comes.
  GradcheckResult result;
  result.options = options;
  for (size_t i : checked_inputs) {
    const Tensor& t = inputs[i];
    std::vector<double> original = t.to_host<double>();
    for (int64_t e = 0; e < t.numel(); ++e) {
      double saved = original[size_t(e)];
      set_element(t, e, saved + options.eps);
      std::vector<double> up = evaluate(f, inputs);
      set_element(t, e, saved - options.eps);
      std::vector<double> down = evaluate(f, inputs);
      set_element(t, e, saved);
      for (int64_t o = 0; o < outputs; ++o) {
        double numeric = (up[size_t(o)] - down[size_t(o)]) / (2 * options.eps);
        double a = analytic[i][size_t(o)][size_t(e)];
        ++result.checked;
        if (std::abs(a - numeric) <= options.atol + options.rtol * std::abs(numeric)) continue;
        ++result.failed;  // a NaN on either side lands here too
        if (result.mismatches.size() < options.max_reported)
          result.mismatches.push_back({i, e, o, a, numeric});
      }
    }
  }
  return result;
}

}  // namespace nnlab
