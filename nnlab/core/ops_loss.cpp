#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::ops {
namespace {
void check_scores(const Tensor& x, const char* op) {
  if (x.rank() != 2 || x.dim(1) == 0)
    throw std::invalid_argument(std::string(op) + ": expected scores [n, classes], got shape " +
                                x.shape().str());
}

void check_labels(const Tensor& scores, const Tensor& labels, const char* op) {
  check_dtype(labels, DType::I32, op, "labels");
  check_shape(labels, Shape{scores.dim(0)}, op, "labels");
  check_same_backend(scores, labels, op);
  if (scores.dim(0) == 0) throw std::invalid_argument(std::string(op) + ": empty batch");
  // Checked here once for every backend (a GPU kernel cannot say which label is wrong); the
  // backward rules reuse the same, already checked labels.
  std::vector<int32_t> values = labels.to_host<int32_t>();
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0 || values[i] >= scores.dim(1))
      throw std::out_of_range(std::string(op) + ": label " + std::to_string(values[i]) +
                              " at batch index " + std::to_string(i) + " is outside [0, " +
                              std::to_string(scores.dim(1)) + ")");
}

Tensor log_softmax_no_grad(const Tensor& x) {
  OpScope op_scope(x.backend(), Op::LogSoftmaxForward, x.dtype());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.backend());
  x.backend().log_softmax_forward(x, y);
  return y;
}

Tensor nll_loss_no_grad(const Tensor& logp, const Tensor& labels) {
  OpScope op_scope(logp.backend(), Op::NllLossForward, logp.dtype());
  Tensor out = Tensor::empty(Shape{1}, logp.dtype(), logp.backend());
  logp.backend().nll_loss_forward(logp, labels, out);
  return out;
}
}  // namespace

Tensor log_softmax(const Tensor& x_in) {
  Tensor x = autocast::to_float32(x_in);
  check_scores(x, "log_softmax");
  Tensor y = log_softmax_no_grad(x);
  Tensor sy = y.detach();
  return record(y, "log_softmax", {x},
                [sy](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
                  OpScope op_scope(g.backend(), Op::LogSoftmaxBackward, g.dtype());
                  grads[0] = Tensor::empty(g.shape(), g.dtype(), g.backend());
                  g.backend().log_softmax_backward(g, sy, grads[0]);
                });
}

Tensor nll_loss(const Tensor& logp_in, const Tensor& labels) {
  Tensor logp = autocast::to_float32(logp_in);
  check_scores(logp, "nll_loss");
  check_labels(logp, labels, "nll_loss");
  Tensor out = nll_loss_no_grad(logp, labels);
  Shape shape = logp.shape();
  return record(
      out, "nll_loss", {logp},
      [labels, shape](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
        OpScope op_scope(g.backend(), Op::NllLossBackward, g.dtype());
        grads[0] = Tensor::empty(shape, g.dtype(), g.backend());
        g.backend().nll_loss_backward(g, labels, grads[0]);
      });
}

Tensor cross_entropy(const Tensor& logits_in, const Tensor& labels) {
  Tensor logits = autocast::to_float32(logits_in);
  check_scores(logits, "cross_entropy");
  check_labels(logits, labels, "cross_entropy");
  Tensor logp = log_softmax_no_grad(logits);
  Tensor out = nll_loss_no_grad(logp, labels);
  return record(
      out, "cross_entropy", {logits},
      [logp, labels](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
        OpScope op_scope(g.backend(), Op::CrossEntropyBackward, g.dtype());
        grads[0] = Tensor::empty(logp.shape(), g.dtype(), g.backend());
        g.backend().cross_entropy_backward(g, logp, labels, grads[0]);
      });
}

Tensor argmax(const Tensor& x) {
  check_scores(x, "argmax");
  OpScope op_scope(x.backend(), Op::Argmax, x.dtype());
  Tensor out = Tensor::empty(Shape{x.dim(0)}, DType::I32, x.backend());
  x.backend().argmax(x, out);
  return out;
}

}  // namespace nnlab::ops
