#include "nnlab/models/mlp.h"

namespace nnlab::models {

std::shared_ptr<nn::Sequential> make_mlp(int64_t inputs, const std::vector<int64_t>& hidden,
                                         int64_t classes, Backend& backend, Generator& gen,
                                         DType dtype) {
  auto net = std::make_shared<nn::Sequential>();
  net->append(std::make_shared<nn::Flatten>());
  int64_t width = inputs;
  for (int64_t h : hidden) {
    net->append(std::make_shared<nn::Linear>(width, h, backend, gen, dtype));
    net->append(std::make_shared<nn::ReLU>());
    width = h;
  }
  net->append(std::make_shared<nn::Linear>(width, classes, backend, gen, dtype));
  net->append(std::make_shared<nn::LogSoftmax>());
  return net;
}

}  // namespace nnlab::models
