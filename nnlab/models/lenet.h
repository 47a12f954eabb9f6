// LeNet as in the CIFAR-10 notebook: conv 3->6 5x5, ReLU, maxpool 2 -> conv 6->16 5x5, ReLU,
// maxpool 2 -> fc 400->120 -> 84 -> 10 with ReLUs (62,006 parameters at 10 classes). The MNIST
// variant takes 1x28x28 and pads the first convolution by 2, so the rest is unchanged.
#pragma once
#include <cstdint>
#include <memory>

#include "nnlab/nn/layers.h"

namespace nnlab::models {

std::shared_ptr<nn::Sequential> make_lenet(int64_t in_channels, bool mnist_padding, int64_t classes,
                                           Backend& backend, Generator& gen, DType dtype = DType::F32);

}  // namespace nnlab::models
