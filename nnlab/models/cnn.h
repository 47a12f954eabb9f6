// The CNN family for the model-size sweep: three stages of two (3x3 conv, batch norm, ReLU)
// and a 2x2 max pool, with widths w, 2w, 4w, then global average pooling and a linear
// classifier. Parameters grow as ~279 w^2: cnn-small (w 10) ~0.03M, cnn-medium (w 38)
// ~0.41M, cnn-large (w 155) ~6.7M at 3 input channels and 10 classes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "nnlab/nn/layers.h"

namespace nnlab::models {

int64_t cnn_width(const std::string& size);  // "small" | "medium" | "large"
std::shared_ptr<nn::Sequential> make_cnn(int64_t width, int64_t in_channels, int64_t classes, Backend& backend,
                                         Generator& gen, DType dtype = DType::F32);

}  // namespace nnlab::models
