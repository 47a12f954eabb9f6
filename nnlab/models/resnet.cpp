#include "nnlab/models/resnet.h"

#include <cmath>

#include "nnlab/core/ops.h"

namespace nnlab::models {
namespace {
// torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") for every convolution.
std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, Backend& backend,
                                 Generator& gen, DType dtype) {
  auto c = std::make_shared<nn::Conv2d>(in, out, kernel, backend, gen, stride, kernel / 2, false, 1, dtype);
  normal_(c->weight, 0.0, std::sqrt(2.0 / double(out * kernel * kernel)), gen);
  return c;
}
}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, Backend& backend, Generator& gen, DType dtype) {
  conv1_ = register_module("conv1", conv(in, out, 3, stride, backend, gen, dtype));
  bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out, backend, dtype));
  conv2_ = register_module("conv2", conv(out, out, 3, 1, backend, gen, dtype));
  bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out, backend, dtype));
  if (stride != 1 || in != out) {
    downsample_ = register_module("downsample", std::make_shared<nn::Sequential>());
    downsample_->append(conv(in, out, 1, stride, backend, gen, dtype));
    downsample_->append(std::make_shared<nn::BatchNorm2d>(out, backend, dtype));
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor h = ops::relu(bn1_->forward(conv1_->forward(x)));
  h = bn2_->forward(conv2_->forward(h));
  return ops::relu(ops::add(h, downsample_ ? downsample_->forward(x) : x));
}

std::shared_ptr<nn::Sequential> make_resnet18(int64_t in_channels, int64_t classes, bool small_input_stem,
                                              Backend& backend, Generator& gen, DType dtype) {
  auto net = std::make_shared<nn::Sequential>();
  if (small_input_stem) {
    net->append(conv(in_channels, 64, 3, 1, backend, gen, dtype));
  } else {
    net->append(conv(in_channels, 64, 7, 2, backend, gen, dtype));
  }
  net->append(std::make_shared<nn::BatchNorm2d>(64, backend, dtype));
  net->append(std::make_shared<nn::ReLU>());
  if (!small_input_stem) net->append(std::make_shared<nn::MaxPool2d>(3, 2, 1));
  int64_t channels = 64;
  for (int64_t width : {64, 128, 256, 512}) {
    auto stage = std::make_shared<nn::Sequential>();
    stage->append(std::make_shared<BasicBlock>(channels, width, width == 64 ? 1 : 2, backend, gen, dtype));
    stage->append(std::make_shared<BasicBlock>(width, width, 1, backend, gen, dtype));
    net->append(stage);
    channels = width;
  }
  net->append(std::make_shared<nn::GlobalAvgPool2d>());
  net->append(std::make_shared<nn::Linear>(512, classes, backend, gen, dtype));
  return net;
}

}  // namespace nnlab::models
