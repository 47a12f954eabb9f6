#include "nnlab/core/autograd.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::ops {

namespace {
void check_input(const Tensor& x, const char* op) {
  if (x.rank() != 4)
    throw std::invalid_argument(std::string(op) + ": input must be 4-D [n, c, h, w], has shape " +
                                x.shape().str());
}
}  // namespace

Tensor max_pool2d(const Tensor& x, const Window2d& win) {
  check_input(x, "max_pool2d");
  if (2 * win.pad_h > win.kernel_h || 2 * win.pad_w > win.kernel_w)
    throw std::invalid_argument("max_pool2d: padding must be at most half the kernel size");
  Backend& be = x.backend();
  OpScope op_scope(be, Op::MaxPool2dForward, x.dtype());
  Shape out = window_output_shape(x, win, x.dim(1), "max_pool2d");
  Tensor y = Tensor::empty(out, x.dtype(), be), indices = Tensor::empty(out, DType::I32, be);
  be.max_pool2d_forward(x, y, indices, win);
  Shape in = x.shape();
  return record(
      y, "max_pool2d", {x},
      [indices, in, win](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
        OpScope op_scope(g.backend(), Op::MaxPool2dBackward, g.dtype());
        grads[0] = Tensor::empty(in, g.dtype(), g.backend());
        g.backend().max_pool2d_backward(g, indices, grads[0], win);
      });
}

Tensor avg_pool2d(const Tensor& x, const Window2d& win) {
  check_input(x, "avg_pool2d");
  Backend& be = x.backend();
  OpScope op_scope(be, Op::AvgPool2dForward, x.dtype());
  Tensor y = Tensor::empty(window_output_shape(x, win, x.dim(1), "avg_pool2d"), x.dtype(), be);
  be.avg_pool2d_forward(x, y, win);
  Shape in = x.shape();
  return record(y, "avg_pool2d", {x},
                [in, win](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
                  OpScope op_scope(g.backend(), Op::AvgPool2dBackward, g.dtype());
                  grads[0] = Tensor::empty(in, g.dtype(), g.backend());
                  g.backend().avg_pool2d_backward(g, grads[0], win);
                });
}

// One window over the whole plane: torch's AdaptiveAvgPool2d((1, 1)) followed by flatten.
Tensor global_avg_pool2d(const Tensor& x) {
  check_input(x, "global_avg_pool2d");
  Window2d win;
  win.kernel_h = win.stride_h = x.dim(2);
  win.kernel_w = win.stride_w = x.dim(3);
  return avg_pool2d(x, win).reshape(Shape{x.dim(0), x.dim(1)});
}

}  // namespace nnlab::ops
