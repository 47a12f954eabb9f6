#include "nnlab/models/zoo.h"

#include <stdexcept>

#include "nnlab/models/cnn.h"
#include "nnlab/models/lenet.h"
#include "nnlab/models/mlp.h"
#include "nnlab/models/resnet.h"

namespace nnlab::models {

std::vector<std::string> model_names() {
  return {"mlp"};
}

std::shared_ptr<nn::Module> make_model(const std::string& name, const Shape& sample,
                                       int64_t classes, Backend& backend, Generator& gen) {
  int64_t c = sample[0], h = sample[1], w = sample[2];
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("model " + name + " needs " + what + ", the data gives " + std::to_string(c) +
                                         "x" + std::to_string(h) + "x" + std::to_string(w) + " images");
  };
  if (name == "mlp") return make_mlp(sample.numel(), {128}, classes, backend, gen);
  if (name == "lenet") {
    bool mnist = h == 28 && w == 28, cifar = h == 32 && w == 32;
    need(mnist || cifar, "32x32 images (or 28x28 for the MNIST variant); try --image-size 32");
    return make_lenet(c, mnist, classes, backend, gen);
  }
  if (name == "resnet18" || name == "resnet18-small") {
    bool small = name == "resnet18-small";
    need(h >= (small ? 8 : 32) && w >= (small ? 8 : 32), small ? "images of at least 8x8" : "images of at least 32x32");
    return make_resnet18(c, classes, small, backend, gen);
  }
  if (name.rfind("cnn-", 0) == 0) {
    need(h >= 8 && w >= 8, "images of at least 8x8 (three 2x2 poolings)");
    return make_cnn(cnn_width(name.substr(4)), c, classes, backend, gen);
  }
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown model '" + name + "'; known: " + known);
}

}  // namespace nnlab::models
