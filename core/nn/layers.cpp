#include "core/nn/layers.h"

#include <cmath>

#include "core/ops.h"

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
