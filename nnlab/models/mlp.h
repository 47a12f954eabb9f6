// The multi-layer perceptron of the MNIST notebook: Flatten, then Linear + ReLU per hidden
// layer, a final Linear and LogSoftmax (train it with NLL loss).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "nnlab/nn/layers.h"

namespace nnlab::models {

std::shared_ptr<nn::Sequential> make_mlp(int64_t inputs, const std::vector<int64_t>& hidden,
                                         int64_t classes, Backend& backend, Generator& gen,
                                         DType dtype = DType::F32);

}  // namespace nnlab::models
