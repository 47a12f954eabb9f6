// ResNet-18 with torchvision's topology: a 7x7 stride-2 stem and 3x3 max pool, four stages of
// two BasicBlocks (64, 128, 256, 512 channels; stages 2-4 start with stride 2 and a 1x1
// convolution + batch norm shortcut), global average pooling and a linear classifier:
// 11,181,642 parameters at 10 classes and 3 input channels. The small-input stem (3x3 stride
// 1, no max pool) keeps 32x32 images from shrinking to 1x1 before the last stage.
// Initialisation as torchvision: convolutions kaiming_normal (fan_out, ReLU), batch norm
// weight 1 and bias 0, the classifier as torch.nn.Linear.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "nnlab/nn/layers.h"

namespace nnlab::models {

class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride, Backend& backend, Generator& gen,
             DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "BasicBlock"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::Sequential> downsample_;  // null: the identity shortcut
};

std::shared_ptr<nn::Sequential> make_resnet18(int64_t in_channels, int64_t classes, bool small_input_stem,
                                              Backend& backend, Generator& gen, DType dtype = DType::F32);

}  // namespace nnlab::models
