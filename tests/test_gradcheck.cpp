// Float64 gradient checks on `reference` with the library's gradcheck (nnlab/core/gradcheck.h,
// torch.autograd.gradcheck's method and defaults: eps 1e-6, atol 1e-5, rtol 1e-3): every op
// case's full Jacobian, the whole MLP loss, and the checker itself on broken rules.
#include <doctest/doctest.h>

#include "nnlab/backends/registry.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/gradcheck.h"
#include "nnlab/core/ops.h"
#include "nnlab/models/mlp.h"
#include "tests/op_cases.h"

using namespace nnlab;
using namespace nnlab::testing;

TEST_CASE("gradcheck: every op case in float64 on reference") {
  Backend& ref = get_backend("reference");
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.name.c_str()) {
      std::vector<Tensor> inputs = make_inputs(c, ref, DType::F64, 7, true);
      GradcheckResult r = gradcheck(c.build, inputs);
      int64_t elements = 0;
      for (const Tensor& t : inputs) elements += t.requires_grad() ? t.numel() : 0;
      INFO(r.report());
      if (elements == 0)
        CHECK(r.checked == 0);  // an empty Jacobian (k = 0 products): the forward is what parity checks
      else
        CHECK(r.ok());
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
  GradcheckResult r = gradcheck([&](const std::vector<Tensor>&) { return ops::nll_loss(mlp->forward(x), labels); },
                                mlp->parameters());
  INFO(r.report());
  CHECK(r.ok());
  CHECK(r.checked == mlp->parameter_count());  // one output: one entry per parameter
}

namespace {
// x * x with a backward rule off by `error` (2x + error): a broken custom op.
Tensor square_with_wrong_rule(const Tensor& x, double error) {
  Tensor y = ops::mul(x.detach(), x.detach());
  return record(y, "square", {x}, [x = x.detach(), error](const Tensor& dy, const std::vector<bool>&,
                                                           std::vector<Tensor>& grads) {
    Tensor two_x = ops::scale(x, 2.0);
    grads[0] = ops::add(ops::mul(dy, two_x), ops::scale(dy, error));
  });
}
}  // namespace

TEST_CASE("gradcheck fails a wrong backward rule and names the entry") {
  Backend& ref = get_backend("reference");
  Tensor x = Tensor::from_host(std::vector<double>{0.5, -1.0, 2.0}, Shape{3}, ref).set_requires_grad(true);
  auto square = [](double error) {
    return [error](const std::vector<Tensor>& in) { return square_with_wrong_rule(in[0], error); };
  };
  CHECK(gradcheck(square(0.0), {x}).ok());
  GradcheckResult wrong = gradcheck(square(0.01), {x});  // 1% of the smallest true derivative
  CHECK_FALSE(wrong.ok());
  CHECK(wrong.checked == 9);  // a 3x3 Jacobian
  CHECK(wrong.failed == 3);   // its diagonal
  REQUIRE(wrong.mismatches.size() == 3);
  CHECK(wrong.mismatches[1].element == 1);
  CHECK(wrong.mismatches[1].output == 1);
  CHECK(wrong.mismatches[1].analytic == doctest::Approx(-1.99));
  CHECK(wrong.mismatches[1].numeric == doctest::Approx(-2.0));
  CHECK(wrong.report().find("input 0 element 1, output element 1: analytic -1.99") != std::string::npos);
  // Inputs come back unchanged.
  CHECK(x.to_host<double>() == std::vector<double>{0.5, -1.0, 2.0});
}

TEST_CASE("gradcheck refuses float32 inputs and outputs that need no gradient") {
  Backend& ref = get_backend("reference");
  Tensor f32 = Tensor::full(Shape{2}, 1.0, DType::F32, ref).set_requires_grad(true);
  auto identity = [](const std::vector<Tensor>& in) { return ops::scale(in[0], 1.0); };
  CHECK_THROWS_WITH_AS(gradcheck(identity, {f32}), "gradcheck: the input 0 is float32; it must be float64",
                       std::invalid_argument);
  Tensor no_grad = Tensor::full(Shape{2}, 1.0, DType::F64, ref);
  CHECK_THROWS_AS(gradcheck(identity, {no_grad}), std::invalid_argument);
}
