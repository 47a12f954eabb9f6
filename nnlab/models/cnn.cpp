#include "nnlab/models/cnn.h"

#include <stdexcept>

namespace nnlab::models {

int64_t cnn_width(const std::string& size) {
  if (size == "small") return 10;
  if (size == "medium") return 38;
  if (size == "large") return 155;
  throw std::invalid_argument("cnn size must be small, medium or large, got '" + size + "'");
}

std::shared_ptr<nn::Sequential> make_cnn(int64_t width, int64_t in_channels, int64_t classes, Backend& backend,
                                         Generator& gen, DType dtype) {
  auto net = std::make_shared<nn::Sequential>();
  int64_t channels = in_channels;
  for (int64_t stage_width : {width, 2 * width, 4 * width}) {
    for (int repeat = 0; repeat < 2; ++repeat) {
      net->append(std::make_shared<nn::Conv2d>(channels, stage_width, 3, backend, gen, 1, 1, false, 1, dtype));
      net->append(std::make_shared<nn::BatchNorm2d>(stage_width, backend, dtype));
      net->append(std::make_shared<nn::ReLU>());
      channels = stage_width;
    }
    net->append(std::make_shared<nn::MaxPool2d>(2));
  }
  net->append(std::make_shared<nn::GlobalAvgPool2d>());
  net->append(std::make_shared<nn::Linear>(channels, classes, backend, gen, dtype));
  return net;
}

}  // namespace nnlab::models
