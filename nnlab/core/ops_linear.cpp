#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::ops {
namespace {
void check_matrix(const Tensor& t, const char* op, const char* what) {
  if (t.rank() != 2)
    throw std::invalid_argument(std::string(op) + ": " + what + " must be 2-D, has shape " +
                                t.shape().str());
}

// c = op(a) @ op(b) as a new tensor.
Tensor gemm_new(bool ta, bool tb, const Tensor& a, const Tensor& b) {
  Backend& be = a.backend();
  OpScope op_scope(be, Op::Gemm, a.dtype());
  int64_t n = ta ? a.dim(1) : a.dim(0), m = tb ? b.dim(0) : b.dim(1);
  Tensor c = Tensor::empty(Shape{n, m}, a.dtype(), be);
  be.gemm(ta, tb, 1.0, a, b, 0.0, c);
  return c;
}
}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  Tensor a = autocast::to_lower(a_in), b = autocast::to_lower(b_in);
  check_matrix(a, "matmul", "a");
  check_matrix(b, "matmul", "b");
  check_same_backend(a, b, "matmul");
  check_dtype(b, a.dtype(), "matmul", "b");
  if (a.dim(1) != b.dim(0))
    throw std::invalid_argument("matmul: inner sizes differ, " + a.shape().str() + " @ " +
                                b.shape().str());
  Tensor out = gemm_new(false, false, a, b);
  Tensor sa = a.detach(), sb = b.detach();
  return record(
      out, "matmul", {a, b},
      [sa, sb](const Tensor& g, const std::vector<bool>& needs, std::vector<Tensor>& grads) {
        if (needs[0]) grads[0] = gemm_new(false, true, g, sb);  // g b^T
        if (needs[1]) grads[1] = gemm_new(true, false, sa, g);  // a^T g
      });
}

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  Tensor x = autocast::to_lower(x_in), w = autocast::to_lower(w_in), b = autocast::to_lower(b_in);
  check_matrix(x, "linear", "input");
  check_matrix(w, "linear", "weight");
  check_same_backend(x, w, "linear");
  check_dtype(w, x.dtype(), "linear", "weight");
  if (x.dim(1) != w.dim(1))
    throw std::invalid_argument("linear: input " + x.shape().str() + " does not match weight " +
                                w.shape().str() + " (expected input [n, " +
                                std::to_string(w.dim(1)) + "])");
  Tensor y = gemm_new(false, true, x, w);
  if (b.defined()) {
    check_shape(b, Shape{w.dim(0)}, "linear", "bias");
    check_same_backend(x, b, "linear");
    check_dtype(b, x.dtype(), "linear", "bias");
    OpScope op_scope(x.backend(), Op::BiasAdd, x.dtype());
    x.backend().bias_add(y, b);
  }
  Tensor sx = x.detach(), sw = w.detach();
  return record(
      y, "linear", {x, w, b},
      [sx, sw](const Tensor& g, const std::vector<bool>& needs, std::vector<Tensor>& grads) {
        if (needs[0]) grads[0] = gemm_new(false, false, g, sw);  // g w
        if (needs[1]) grads[1] = gemm_new(true, false, g, sx);   // g^T x
        if (needs[2]) {
          Backend& be = g.backend();
          OpScope op_scope(be, Op::SumDim0, g.dtype());
          grads[2] = Tensor::empty(Shape{g.dim(1)}, g.dtype(), be);
          be.sum_dim0(g, grads[2]);
        }
      });
}

}  // namespace nnlab::ops
