#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::ops {
namespace {
void check_nchw(const Tensor& t, const char* op, const char* what) {
  if (t.rank() != 4)
    throw std::invalid_argument(std::string(op) + ": " + what +
                                " must be 4-D [n, c, h, w], has shape " + t.shape().str());
}
}  // namespace

Window2d window(int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  Window2d w;
  w.kernel_h = w.kernel_w = kernel;
  w.stride_h = w.stride_w = stride;
  w.pad_h = w.pad_w = padding;
  w.dilation_h = w.dilation_w = dilation;
  return w;
}

Shape window_output_shape(const Tensor& x, const Window2d& win, int64_t channels, const char* op) {
  if (win.stride_h < 1 || win.stride_w < 1 || win.pad_h < 0 || win.pad_w < 0 ||
      win.dilation_h < 1 || win.dilation_w < 1 || win.kernel_h < 1 || win.kernel_w < 1)
    throw std::invalid_argument(std::string(op) +
                                ": kernel, stride and dilation must be >= 1, padding >= 0");
  int64_t p = win.out_size(x.dim(2), true), q = win.out_size(x.dim(3), false);
  if (p < 1 || q < 1)
    throw std::invalid_argument(std::string(op) + ": input " + x.shape().str() +
                                " is too small for a " + std::to_string(win.kernel_h) + "x" +
                                std::to_string(win.kernel_w) + " window (output would be " +
                                std::to_string(p) + "x" + std::to_string(q) + ")");
  return Shape{x.dim(0), channels, p, q};
}

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, Window2d win) {
  Tensor x = autocast::to_lower(x_in), w = autocast::to_lower(w_in), bias = autocast::to_lower(bias_in);
  check_nchw(x, "conv2d", "input");
  check_nchw(w, "conv2d", "weight");
  check_same_backend(x, w, "conv2d");
  check_dtype(w, x.dtype(), "conv2d", "weight");
  if (w.dim(1) != x.dim(1))
    throw std::invalid_argument("conv2d: input " + x.shape().str() + " has " +
                                std::to_string(x.dim(1)) + " channels, weight " + w.shape().str() +
                                " expects " + std::to_string(w.dim(1)));
  if (bias.defined()) {
    check_shape(bias, Shape{w.dim(0)}, "conv2d", "bias");
    check_dtype(bias, x.dtype(), "conv2d", "bias");
  }
  win.kernel_h = w.dim(2);
  win.kernel_w = w.dim(3);
  Backend& be = x.backend();
  OpScope op_scope(be, Op::Conv2dForward, x.dtype());
  Tensor y = Tensor::empty(window_output_shape(x, win, w.dim(0), "conv2d"), x.dtype(), be);
  be.conv2d_forward(x, w, bias, y, win);
  Tensor sx = x.detach(), sw = w.detach();
  return record(
      y, "conv2d", {x, w, bias},
      [sx, sw, win](const Tensor& g, const std::vector<bool>& needs, std::vector<Tensor>& grads) {
        Backend& b = g.backend();
        if (needs[0]) {
          OpScope op_scope(b, Op::Conv2dBackwardData, g.dtype());
          grads[0] = Tensor::empty(sx.shape(), g.dtype(), b);
          b.conv2d_backward_data(g, sw, grads[0], win);
        }
        if (needs[1]) {
          OpScope op_scope(b, Op::Conv2dBackwardFilter, g.dtype());
          grads[1] = Tensor::empty(sw.shape(), g.dtype(), b);
          b.conv2d_backward_filter(g, sx, grads[1], win);
        }
        if (needs[2]) {
          OpScope op_scope(b, Op::ChannelSum, g.dtype());
          grads[2] = Tensor::empty(Shape{g.dim(1)}, g.dtype(), b);
          b.channel_sum(g, grads[2]);
        }
      });
}

}  // namespace nnlab::ops
