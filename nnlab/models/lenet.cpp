#include "nnlab/models/lenet.h"

namespace nnlab::models {

std::shared_ptr<nn::Sequential> make_lenet(int64_t in_channels, bool mnist_padding, int64_t classes,
                                           Backend& backend, Generator& gen, DType dtype) {
  using namespace nn;
  auto net = std::make_shared<Sequential>();
  net->append(std::make_shared<Conv2d>(in_channels, 6, 5, backend, gen, 1, mnist_padding ? 2 : 0, true, 1, dtype));
  net->append(std::make_shared<ReLU>());
  net->append(std::make_shared<MaxPool2d>(2));
  net->append(std::make_shared<Conv2d>(6, 16, 5, backend, gen, 1, 0, true, 1, dtype));
  net->append(std::make_shared<ReLU>());
  net->append(std::make_shared<MaxPool2d>(2));
  net->append(std::make_shared<Flatten>());
  net->append(std::make_shared<Linear>(16 * 5 * 5, 120, backend, gen, dtype));
  net->append(std::make_shared<ReLU>());
  net->append(std::make_shared<Linear>(120, 84, backend, gen, dtype));
  net->append(std::make_shared<ReLU>());
  net->append(std::make_shared<Linear>(84, classes, backend, gen, dtype));
  return net;
}

}  // namespace nnlab::models
