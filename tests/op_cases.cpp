#include "tests/op_cases.h"

#include <doctest/doctest.h>

#include <cmath>

#include "nnlab/core/backend.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/philox.h"

namespace nnlab::testing {
namespace {
using Inputs = std::vector<Tensor>;
InputSpec real(Shape s) {
  return {std::move(s), 0};
}
InputSpec labels(int64_t n, int64_t classes) {
  return {Shape{n}, classes};
}
InputSpec channel(int64_t c) {  // batch norm's weight or bias
  return {Shape{c}, 0, true};
}

Window2d win(int64_t stride, int64_t pad, int64_t dilation = 1) {
  return ops::window(1, stride, pad, dilation);
}

// Batch norm with fresh running statistics on x's backend: mean 0 and variance 1 in training;
// non-trivial ones in evaluation, so that evaluation differs from the identity.
Tensor batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, bool training,
                  double eps = 1e-5) {
  DType stats = is_reduced_float(x.dtype()) ? DType::F32 : x.dtype();
  Tensor mean = Tensor::zeros(Shape{x.dim(1)}, stats, x.backend());
  Tensor var = Tensor::full(Shape{x.dim(1)}, 1.0, stats, x.backend());
  if (!training) {
    x.backend().fill_uniform(mean, -0.5, 0.5, 77, 0);
    x.backend().fill_uniform(var, 0.5, 1.5, 78, 0);
  }
  return ops::batch_norm2d(x, w, b, mean, var, training, 0.1, eps);
}
}  // namespace

const std::vector<OpCase>& op_cases() {
  // Sizes are odd on purpose (no multiple of a SIMD width or tile), with batch 1 cases.
  // The ReLUs of the two-layer MLP and the residual block decide on computed values, which
  // rounding moves differently on each backend and instruction set; at the suites' seeds (7 in
  // gradcheck, 11 in parity) every such input is at least 8e-4 of its tensor's largest |value|
  // from 0 (measured in float64), against float32 rounding of about 1e-7 and gradcheck's step
  // of 1e-6. A new case that decides on computed values must keep such a margin.
  static const std::vector<OpCase> cases = {
      {"matmul 3x5 @ 5x4",
       {real({3, 5}), real({5, 4})},
       [](const Inputs& x) { return ops::matmul(x[0], x[1]); }},
      {"matmul 1x7 @ 7x1",
       {real({1, 7}), real({7, 1})},
       [](const Inputs& x) { return ops::matmul(x[0], x[1]); }},
      {"matmul 3x0 @ 0x4 (k = 0: zeros)",
       {real({3, 0}), real({0, 4})},
       [](const Inputs& x) { return ops::matmul(x[0], x[1]); }},
      {"matmul 17x33 @ 33x9",
       {real({17, 33}), real({33, 9})},
       [](const Inputs& x) { return ops::matmul(x[0], x[1]); }},
      {"linear 4x6 -> 3",
       {real({4, 6}), real({3, 6}), real({3})},
       [](const Inputs& x) { return ops::linear(x[0], x[1], x[2]); }},
      {"linear batch 1, 13 -> 5",
       {real({1, 13}), real({5, 13}), real({5})},
       [](const Inputs& x) { return ops::linear(x[0], x[1], x[2]); }},
      {"linear no bias 7x11 -> 3",
       {real({7, 11}), real({3, 11})},
       [](const Inputs& x) { return ops::linear(x[0], x[1], Tensor()); }},
      {"add 3x5",
       {real({3, 5}), real({3, 5})},
       [](const Inputs& x) { return ops::add(x[0], x[1]); }},
      {"add same tensor twice", {real({7})}, [](const Inputs& x) { return ops::add(x[0], x[0]); }},
      {"mul 4x3",
       {real({4, 3}), real({4, 3})},
       [](const Inputs& x) { return ops::mul(x[0], x[1]); }},
      {"scale 2x9 by -1.5", {real({2, 9})}, [](const Inputs& x) { return ops::scale(x[0], -1.5); }},
      {"relu 5x7", {real({5, 7})}, [](const Inputs& x) { return ops::relu(x[0]); }},
      {"sum 3x4x5", {real({3, 4, 5})}, [](const Inputs& x) { return ops::sum(x[0]); }},
      {"mean 6x5", {real({6, 5})}, [](const Inputs& x) { return ops::mean(x[0]); }},
      {"log_softmax 4x7", {real({4, 7})}, [](const Inputs& x) { return ops::log_softmax(x[0]); }},
      {"log_softmax 1x3", {real({1, 3})}, [](const Inputs& x) { return ops::log_softmax(x[0]); }},
      {"nll_loss of log_softmax 5x7",
       {real({5, 7}), labels(5, 7)},
       [](const Inputs& x) { return ops::nll_loss(ops::log_softmax(x[0]), x[1]); }},
      {"cross_entropy 6x10",
       {real({6, 10}), labels(6, 10)},
       [](const Inputs& x) { return ops::cross_entropy(x[0], x[1]); }},
      {"cross_entropy batch 1",
       {real({1, 4}), labels(1, 4)},
       [](const Inputs& x) { return ops::cross_entropy(x[0], x[1]); }},
      {"flatten 2x3x4 then linear",
       {real({2, 3, 4}), real({5, 12})},
       [](const Inputs& x) { return ops::linear(x[0].flatten(), x[1], Tensor()); }},
      {"two-layer MLP with shared use",
       {real({3, 8}), real({6, 8}), real({6}), real({4, 6})},
       [](const Inputs& x) {
         Tensor h = ops::relu(ops::linear(x[0], x[1], x[2]));
         return ops::add(ops::linear(h, x[3], Tensor()), ops::linear(h, x[3], Tensor()));
       }},
      {"conv2d 3x3 stride 1 pad 1",
       {real({2, 3, 5, 6}), real({4, 3, 3, 3}), real({4})},
       [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], win(1, 1)); }},
      {"conv2d 3x3 stride 2 pad 1, odd size",
       {real({2, 2, 7, 5}), real({3, 2, 3, 3}), real({3})},
       [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], win(2, 1)); }},
      {"conv2d 5x5 no padding, batch 1 (LeNet)",
       {real({1, 3, 9, 9}), real({2, 3, 5, 5}), real({2})},
       [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], win(1, 0)); }},
      {"conv2d 1x1 stride 2 no bias (downsample)",
       {real({2, 4, 5, 5}), real({3, 4, 1, 1})},
       [](const Inputs& x) { return ops::conv2d(x[0], x[1], Tensor(), win(2, 0)); }},
      {"conv2d 3x3 dilation 2 pad 2",
       {real({1, 2, 7, 7}), real({2, 2, 3, 3}), real({2})},
       [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], win(1, 2, 2)); }},
      {"conv2d 7x7 stride 2 pad 3 (ResNet stem)",
       {real({1, 3, 11, 11}), real({2, 3, 7, 7})},
       [](const Inputs& x) { return ops::conv2d(x[0], x[1], Tensor(), win(2, 3)); }},
      {"max_pool2d 2x2 stride 2",
       {real({2, 3, 6, 6})},
       [](const Inputs& x) { return ops::max_pool2d(x[0], ops::window(2, 2)); }},
      {"max_pool2d 3x3 stride 2 pad 1, odd size",
       {real({1, 2, 7, 5})},
       [](const Inputs& x) { return ops::max_pool2d(x[0], ops::window(3, 2, 1)); }},
      {"max_pool2d 3x3 stride 1 (overlapping)",
       {real({1, 2, 5, 5})},
       [](const Inputs& x) { return ops::max_pool2d(x[0], ops::window(3, 1)); }},
      {"avg_pool2d 3x3 stride 1 pad 1",
       {real({2, 2, 5, 4})},
       [](const Inputs& x) { return ops::avg_pool2d(x[0], ops::window(3, 1, 1)); }},
      {"avg_pool2d 2x2 stride 2, odd size",
       {real({1, 3, 5, 5})},
       [](const Inputs& x) { return ops::avg_pool2d(x[0], ops::window(2, 2)); }},
      {"global_avg_pool2d",
       {real({3, 4, 3, 5})},
       [](const Inputs& x) { return ops::global_avg_pool2d(x[0]); }},
      {"batch_norm2d training",
       {real({3, 4, 3, 2}), channel(4), channel(4)},
       [](const Inputs& x) { return batch_norm(x[0], x[1], x[2], true); }},
      {"batch_norm2d training, batch 1",
       {real({1, 2, 4, 3}), channel(2), channel(2)},
       [](const Inputs& x) { return batch_norm(x[0], x[1], x[2], true); }},
      // Each backward must use its own layer's eps: the second forward's is not the first's.
      // (The product keeps the second from normalising the first's scale and shift away.)
      {"batch_norm2d twice, eps 0.5 then 1e-5",
       {real({2, 3, 2, 2}), channel(3), channel(3), channel(3), channel(3)},
       [](const Inputs& x) {
         Tensor h = ops::mul(batch_norm(x[0], x[1], x[2], true, 0.5), x[0]);
         return batch_norm(h, x[3], x[4], true, 1e-5);
       }},
      {"batch_norm2d evaluation",
       {real({2, 3, 2, 2}), channel(3), channel(3)},
       [](const Inputs& x) { return batch_norm(x[0], x[1], x[2], false); }},
      {"dropout p 0.3 (seeded mask)",
       {real({4, 25})},
       [](const Inputs& x) {
         Generator gen(21);  // the same mask on every call
         return ops::dropout(x[0], 0.3, true, gen);
       }},
      {"residual block: conv-bn-relu-conv-bn + x, relu",
       {real({2, 3, 5, 5}), real({3, 3, 3, 3}), channel(3), channel(3), real({3, 3, 3, 3}),
        channel(3), channel(3)},
       [](const Inputs& x) {
         Tensor h =
             ops::relu(batch_norm(ops::conv2d(x[0], x[1], Tensor(), win(1, 1)), x[2], x[3], true));
         h = batch_norm(ops::conv2d(h, x[4], Tensor(), win(1, 1)), x[5], x[6], true);
         return ops::relu(ops::add(h, x[0]));
       }},
  };
  return cases;
}

std::vector<Tensor> make_inputs(const OpCase& c, Backend& backend, DType dtype, uint64_t seed,
                                bool requires_grad) {
  std::vector<Tensor> out;
  uint64_t counter = 0;
  for (const InputSpec& spec : c.inputs) {
    int64_t n = spec.shape.numel();
    if (spec.label_classes > 0) {
      std::vector<int32_t> v(static_cast<size_t>(n));
      for (auto& x : v)
        x = int32_t(philox::philox4x32_10(counter++, seed).x % uint64_t(spec.label_classes));
      out.push_back(Tensor::from_host(v, spec.shape, backend));
      continue;
    }
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& x : v) x = philox::uniform(seed, counter++, -1.0, 1.0);
    DType want = spec.per_channel && is_reduced_float(dtype) ? DType::F32 : dtype;
    Tensor t = want == DType::F64
                   ? Tensor::from_host(v, spec.shape, backend)
                   : Tensor::from_host(std::vector<float>(v.begin(), v.end()), spec.shape, backend);
    if (want != t.dtype()) t = ops::cast(t, want);
    if (requires_grad) t.set_requires_grad(true);
    out.push_back(t);
  }
  return out;
}

Tensor weighted_sum(const Tensor& out, DType weights_dtype) {
  Tensor w = Tensor::empty(out.shape(), DType::F32, out.backend());
  out.backend().fill_uniform(w, 0.5, 1.5, /*seed=*/12345, 0);
  return ops::sum(ops::mul(out, ops::cast(ops::cast(w, weights_dtype), out.dtype())));
}

std::vector<double> as_doubles(const Tensor& t) {
  return t.to_host_doubles();
}

Discrepancy discrepancy(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  Discrepancy d;
  for (double w : want) d.scale = std::max(d.scale, std::abs(w));
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(got[i] - want[i]);
    if (std::isnan(err))
      return {err, i, d.scale};  // the worst there is: later elements cannot hide it
    if (err > d.worst) {
      d.worst = err;
      d.at = i;
    }
  }
  return d;
}

void check_close(const std::string& what, const std::vector<double>& got,
                 const std::vector<double>& want, double rtol) {
  Discrepancy d = discrepancy(got, want);
  INFO(what << ": max abs error " << d.worst << " at element " << d.at << " (got "
            << (got.empty() ? 0 : got[d.at]) << ", want " << (want.empty() ? 0 : want[d.at])
            << "), scale " << d.scale);
  CHECK(d.worst <= rtol * d.scale);
}

}  // namespace nnlab::testing
