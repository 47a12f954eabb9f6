#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::ops {
namespace {
Tensor new_like(const Tensor& t) {
  return Tensor::empty(t.shape(), t.dtype(), t.backend());
}

void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  check_same_backend(a, b, op);
  check_dtype(b, a.dtype(), op, "second operand");
  check_shape(b, a.shape(), op, "second operand");
}

Tensor mul_no_grad(const Tensor& a, const Tensor& b) {
  OpScope op_scope(a.backend(), Op::Mul, a.dtype());
  Tensor out = new_like(a);
  a.backend().mul(a, b, out);
  return out;
}
}  // namespace

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  auto [a, b] = autocast::promote(a_in, b_in);
  check_pair(a, b, "add");
  OpScope op_scope(a.backend(), Op::Add, a.dtype());
  Tensor out = new_like(a);
  a.backend().add(a, b, out);
  return record(out, "add", {a, b},
                [](const Tensor& g, const std::vector<bool>& needs, std::vector<Tensor>& grads) {
                  grads[0] = grads[1] = g;  // gradients are never modified in place
                });
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
  auto [a, b] = autocast::promote(a_in, b_in);
  check_pair(a, b, "mul");
  Tensor out = mul_no_grad(a, b);
  Tensor sa = a.detach(), sb = b.detach();
  return record(
      out, "mul", {a, b},
      [sa, sb](const Tensor& g, const std::vector<bool>& needs, std::vector<Tensor>& grads) {
        if (needs[0]) grads[0] = mul_no_grad(g, sb);
        if (needs[1]) grads[1] = mul_no_grad(g, sa);
      });
}

Tensor scale(const Tensor& x, double alpha) {
  OpScope op_scope(x.backend(), Op::Scale, x.dtype());
  Tensor out = new_like(x);
  x.backend().scale(x, alpha, out);
  return record(out, "scale", {x},
                [alpha](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
                  grads[0] = scale(g, alpha);
                });
}

Tensor relu(const Tensor& x) {
  OpScope op_scope(x.backend(), Op::ReluForward, x.dtype());
  Tensor y = new_like(x);
  x.backend().relu_forward(x, y);
  Tensor sy = y.detach();
  return record(y, "relu", {x},
                [sy](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
                  OpScope op_scope(g.backend(), Op::ReluBackward, g.dtype());
                  // In place when nothing else holds g: ResNet-18's stem at 224x224 held four
                  // 98 MB tensors at once here, the block then kept by the allocator.
                  grads[0] = sole_reference(g) ? g : new_like(g);
                  g.backend().relu_backward(g, sy, grads[0]);
                });
}

Tensor cast(const Tensor& x, DType dtype) {
  if (!is_floating(x.dtype()) || !is_floating(dtype))
    throw std::invalid_argument(std::string("cast: converts between floating dtypes, not ") +
                                dtype_name(x.dtype()) + " to " + dtype_name(dtype));
  if (x.dtype() == dtype) return x;
  // The backend answers for conversions between a dtype and float32 (ops.def): ask about the
  // side that is not float32.
  OpScope op_scope(x.backend(), Op::Cast, x.dtype() == DType::F32 ? dtype : x.dtype());
  Tensor out = Tensor::empty(x.shape(), dtype, x.backend());
  x.backend().cast(x, out);
  DType from = x.dtype();
  return record(out, "cast", {x},
                [from](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
                  grads[0] = cast(g, from);
                });
}

}  // namespace nnlab::ops

namespace nnlab::ops {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0) return x;
  OpScope op_scope(x.backend(), Op::DropoutMask, x.dtype());
  Tensor mask = Tensor::empty(x.shape(), x.dtype(), x.backend());
  x.backend().dropout_mask(mask, p, gen.seed, gen.take(uint64_t(x.numel())));
  return mul(x, mask);  // the mask needs no gradient: mul's rule gives g * mask
}

}  // namespace nnlab::ops
