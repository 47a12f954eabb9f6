#include "nnlab/nn/layers.h"

#include <cmath>
#include <stdexcept>

#include "nnlab/core/ops.h"

namespace nnlab::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Backend& backend, Generator& gen,
               DType dtype, bool with_bias)
    : in_(in_features), out_(out_features) {
  weight = register_parameter("weight", Tensor::empty(Shape{out_, in_}, dtype, backend));
  kaiming_uniform_(weight, in_, std::sqrt(5.0), gen);
  if (with_bias) {
    bias = register_parameter("bias", Tensor::empty(Shape{out_}, dtype, backend));
    double bound = 1.0 / std::sqrt(double(in_));
    uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) {
  return ops::linear(x, weight, bias);
}

std::string Linear::describe() const {
  return "Linear(" + std::to_string(in_) + ", " + std::to_string(out_) +
         (bias.defined() ? ")" : ", bias=false)");
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Backend& backend, Generator& gen,
               int64_t stride, int64_t padding, bool with_bias, int64_t dilation, DType dtype)
    : window(ops::window(kernel, stride, padding, dilation)) {
  weight = register_parameter("weight", Tensor::empty(Shape{out_channels, in_channels, kernel, kernel}, dtype, backend));
  int64_t fan_in = in_channels * kernel * kernel;
  kaiming_uniform_(weight, fan_in, std::sqrt(5.0), gen);
  if (with_bias) {
    bias = register_parameter("bias", Tensor::empty(Shape{out_channels}, dtype, backend));
    double bound = 1.0 / std::sqrt(double(fan_in));
    uniform_(bias, -bound, bound, gen);
  }
}

Tensor Conv2d::forward(const Tensor& x) { return ops::conv2d(x, weight, bias, window); }

std::string Conv2d::describe() const {
  return "Conv2d(" + std::to_string(weight.dim(1)) + ", " + std::to_string(weight.dim(0)) + ", kernel=" +
         std::to_string(window.kernel_h) + ", stride=" + std::to_string(window.stride_h) +
         ", padding=" + std::to_string(window.pad_h) + (bias.defined() ? ")" : ", bias=false)");
}

BatchNorm2d::BatchNorm2d(int64_t channels, Backend& backend, DType dtype, double momentum, double eps)
    : momentum_(momentum), eps_(eps) {
  weight = register_parameter("weight", Tensor::full(Shape{channels}, 1.0, dtype, backend));
  bias = register_parameter("bias", Tensor::zeros(Shape{channels}, dtype, backend));
  running_mean = register_buffer("running_mean", Tensor::zeros(Shape{channels}, dtype, backend));
  running_var = register_buffer("running_var", Tensor::full(Shape{channels}, 1.0, dtype, backend));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  return ops::batch_norm2d(x, weight, bias, running_mean, running_var, is_training(), momentum_, eps_);
}

std::string BatchNorm2d::describe() const { return "BatchNorm2d(" + std::to_string(weight.dim(0)) + ")"; }

namespace {
Window2d pool_window(int64_t kernel, int64_t stride, int64_t padding) {
  return ops::window(kernel, stride == 0 ? kernel : stride, padding);
}
std::string pool_text(const char* name, const Window2d& w) {
  return std::string(name) + "(kernel=" + std::to_string(w.kernel_h) + ", stride=" + std::to_string(w.stride_h) +
         ", padding=" + std::to_string(w.pad_h) + ")";
}
}  // namespace

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding) : window_(pool_window(kernel, stride, padding)) {}
Tensor MaxPool2d::forward(const Tensor& x) { return ops::max_pool2d(x, window_); }
std::string MaxPool2d::describe() const { return pool_text("MaxPool2d", window_); }

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding) : window_(pool_window(kernel, stride, padding)) {}
Tensor AvgPool2d::forward(const Tensor& x) { return ops::avg_pool2d(x, window_); }
std::string AvgPool2d::describe() const { return pool_text("AvgPool2d", window_); }

Tensor GlobalAvgPool2d::forward(const Tensor& x) { return ops::global_avg_pool2d(x); }

Dropout::Dropout(double p, Generator& gen) : p_(p), gen_(gen.seed ^ (gen.take(1) * 0x9E3779B97F4A7C15ull)) {
  if (!(p >= 0 && p < 1)) throw std::invalid_argument("Dropout: p must be in [0, 1), got " + std::to_string(p));
  register_generator("generator", &gen_);
}
Tensor Dropout::forward(const Tensor& x) { return ops::dropout(x, p_, is_training(), gen_); }
std::string Dropout::describe() const { return "Dropout(p=" + std::to_string(p_).substr(0, 4) + ")"; }

Tensor ReLU::forward(const Tensor& x) {
  return ops::relu(x);
}
Tensor LogSoftmax::forward(const Tensor& x) {
  return ops::log_softmax(x);
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers) {
  for (auto& l : layers) append(std::move(l));
}

void Sequential::append(std::shared_ptr<Module> layer) {
  layers_.push_back(register_module(std::to_string(layers_.size()), std::move(layer)));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
}

}  // namespace nnlab::nn
