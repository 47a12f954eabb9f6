// Float64 gradient checks on `reference`: every op case's analytic gradients against central
// differences, with torch.autograd.gradcheck's defaults (eps 1e-6, atol 1e-5, rtol 1e-3).
#include <doctest/doctest.h>

#include <cmath>

#include "nnlab/backends/registry.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/ops.h"
#include "nnlab/models/mlp.h"
#include "tests/op_cases.h"

using namespace nnlab;
using namespace nnlab::testing;

namespace {
constexpr double kEps = 1e-6, kAtol = 1e-5, kRtol = 1e-3;

double loss_value(const std::function<Tensor()>& loss) {
  NoGradGuard no_grad;
  return loss().item();
}

// Compares d loss / d t (already in t.grad()) with central differences, perturbing t in place.
void check_gradient(const std::string& what, const Tensor& t, const std::function<Tensor()>& loss) {
  std::vector<double> analytic = t.grad().to_host<double>();
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    double saved = p[i];
    p[i] = saved + kEps;
    double up = loss_value(loss);
    p[i] = saved - kEps;
    double down = loss_value(loss);
    p[i] = saved;
    double numeric = (up - down) / (2 * kEps), a = analytic[size_t(i)];
    INFO(what << " element " << i << ": analytic " << a << ", numeric " << numeric);
    CHECK(std::abs(a - numeric) <= kAtol + kRtol * std::abs(numeric));
  }
}
}  // namespace

TEST_CASE("gradcheck: every op case in float64 on reference") {
  Backend& ref = get_backend("reference");
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.name.c_str()) {
      std::vector<Tensor> inputs = make_inputs(c, ref, DType::F64, 7, true);
      auto loss = [&] { return weighted_sum(c.build(inputs)); };
      loss().backward();
      for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].requires_grad())
          check_gradient(c.name + " input " + std::to_string(i), inputs[i], loss);
    }
  }
}

TEST_CASE("gradcheck: the whole MLP loss in float64") {
  Backend& ref = get_backend("reference");
  Generator gen(3);
  auto mlp = models::make_mlp(12, {7}, 4, ref, gen, DType::F64);
  Tensor x = Tensor::empty(Shape{5, 1, 3, 4}, DType::F64, ref);
  normal_(x, 0, 1, gen);
  Tensor labels = Tensor::from_host(std::vector<int32_t>{0, 3, 1, 2, 3}, Shape{5}, ref);
  auto loss = [&] { return ops::nll_loss(mlp->forward(x), labels); };
  loss().backward();
  for (auto& [name, p] : mlp->named_parameters()) check_gradient(name, p, loss);
}

TEST_CASE("gradcheck catches a wrong gradient") {
  // The checker itself must fail on a broken rule: scale the true gradient of sum by 1.01.
  Backend& ref = get_backend("reference");
  Tensor x = Tensor::full(Shape{3}, 0.5, DType::F64, ref).set_requires_grad(true);
  ops::scale(ops::sum(x), 1.01).backward();
  std::vector<double> g = x.grad().to_host<double>();
  double numeric = 1.0;  // d sum(x) / dx_i
  CHECK_FALSE(std::abs(g[0] - numeric) <= kAtol + kRtol * std::abs(numeric));
}
