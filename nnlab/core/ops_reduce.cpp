#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::ops {
namespace {
// The backward of out = alpha * sum(x): every element of x gets alpha * g.
Tensor expand(const Tensor& g, double alpha, const Shape& shape) {
  OpScope op_scope(g.backend(), Op::ExpandScalar, g.dtype());
  Tensor dx = Tensor::empty(shape, g.dtype(), g.backend());
  g.backend().expand_scalar(g, alpha, dx);
  return dx;
}

Tensor scaled_sum(const Tensor& x, double alpha, const char* name) {
  Backend& be = x.backend();
  OpScope op_scope(be, Op::Sum, x.dtype());
  Tensor out = Tensor::empty(Shape{1}, x.dtype(), be);
  be.sum(x, out);
  if (alpha != 1.0) {
    OpScope scale_scope(be, Op::Scale, x.dtype());  // nested: the profile counts it apart
    be.scale(out, alpha, out);
  }
  Shape shape = x.shape();
  return record(out, name, {x},
                [alpha, shape](const Tensor& g, const std::vector<bool>&,
                               std::vector<Tensor>& grads) { grads[0] = expand(g, alpha, shape); });
}
}  // namespace

Tensor sum(const Tensor& x) {
  return scaled_sum(autocast::to_float32(x), 1.0, "sum");
}

Tensor mean(const Tensor& x) {
  if (x.numel() == 0) throw std::invalid_argument("mean of an empty tensor " + x.shape().str());
  return scaled_sum(autocast::to_float32(x), 1.0 / double(x.numel()), "mean");
}

}  // namespace nnlab::ops
