#include "nnlab/core/backend.h"

#include <chrono>
#include <stdexcept>

namespace nnlab {

const char* op_name(Op op) {
  switch (op) {
    case Op::Gemm:
      return "gemm";
    case Op::BiasAdd:
      return "bias_add";
    case Op::SumDim0:
      return "sum_dim0";
    case Op::Add:
      return "add";
    case Op::Mul:
      return "mul";
    case Op::Scale:
      return "scale";
    case Op::ExpandScalar:
      return "expand_scalar";
    case Op::ReluForward:
      return "relu_forward";
    case Op::ReluBackward:
      return "relu_backward";
    case Op::Sum:
      return "sum";
    case Op::LogSoftmaxForward:
      return "log_softmax_forward";
    case Op::LogSoftmaxBackward:
      return "log_softmax_backward";
    case Op::NllLossForward:
      return "nll_loss_forward";
    case Op::NllLossBackward:
      return "nll_loss_backward";
    case Op::CrossEntropyBackward:
      return "cross_entropy_backward";
    case Op::Argmax:
      return "argmax";
    case Op::Fill:
      return "fill";
    case Op::FillUniform:
      return "fill_uniform";
    case Op::FillNormal:
      return "fill_normal";
    case Op::SgdUpdate:
      return "sgd_update";
    case Op::AdamUpdate:
      return "adam_update";
    case Op::Conv2dForward:
      return "conv2d_forward";
    case Op::Conv2dBackwardData:
      return "conv2d_backward_data";
    case Op::Conv2dBackwardFilter:
      return "conv2d_backward_filter";
    case Op::ChannelSum:
      return "channel_sum";
    case Op::MaxPool2dForward:
      return "max_pool2d_forward";
    case Op::MaxPool2dBackward:
      return "max_pool2d_backward";
    case Op::AvgPool2dForward:
      return "avg_pool2d_forward";
    case Op::AvgPool2dBackward:
      return "avg_pool2d_backward";
    case Op::BatchNormForward:
      return "batch_norm_forward";
    case Op::BatchNormBackward:
      return "batch_norm_backward";
    case Op::DropoutMask:
      return "dropout_mask";
  }
  return "?";
}

int64_t Window2d::out_size(int64_t in, bool height) const {
  int64_t k = height ? kernel_h : kernel_w, s = height ? stride_h : stride_w;
  int64_t p = height ? pad_h : pad_w, d = height ? dilation_h : dilation_w;
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

namespace {
class HostStopwatch : public Stopwatch {
 public:
  explicit HostStopwatch(Backend& backend) : backend_(backend) {}
  void start() override {
    backend_.synchronize();
    start_ = std::chrono::steady_clock::now();
  }
  double stop_seconds() override {
    backend_.synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  Backend& backend_;
  std::chrono::steady_clock::time_point start_;
};
}  // namespace

const char* precision_name(Precision p) { return p == Precision::TF32 ? "tf32" : "fp32"; }

std::string Backend::set_precision(Precision p) {
  return p == Precision::FP32 ? "fp32" : "fp32 (" + name() + " has no " + precision_name(p) + " mode)";
}

std::unique_ptr<Stopwatch> Backend::make_stopwatch() { return std::make_unique<HostStopwatch>(*this); }

void require_op(const Backend& backend, Op op, DType dtype) {
  if (!backend.supports(op, dtype))
    throw std::runtime_error("backend '" + backend.name() + "' does not support op " + op_name(op) +
                             " for dtype " + dtype_name(dtype));
}

}  // namespace nnlab
