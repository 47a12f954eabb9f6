#include "nnlab/models/zoo.h"

#include <functional>
#include <stdexcept>

#include "nnlab/models/cnn.h"
#include "nnlab/models/lenet.h"
#include "nnlab/models/mlp.h"
#include "nnlab/models/resnet.h"

namespace nnlab::models {
namespace {
// What a model is built from: the sample's channels, height and width, the class count, and
// `need`, which throws a shape error naming the model when its condition fails.
struct BuildArgs {
  const Shape& sample;
  int64_t c, h, w, classes;
  Backend& backend;
  Generator& gen;
  std::function<void(bool ok, const std::string& what)> need;
};

struct ZooEntry {
  std::string name;
  std::function<std::shared_ptr<nn::Module>(const BuildArgs&)> build;
};

std::shared_ptr<nn::Module> resnet18(const BuildArgs& a, bool small) {
  a.need(a.h >= (small ? 8 : 32) && a.w >= (small ? 8 : 32),
         small ? "images of at least 8x8" : "images of at least 32x32");
  return make_resnet18(a.c, a.classes, small, a.backend, a.gen);
}

std::shared_ptr<nn::Module> cnn(const BuildArgs& a, const std::string& width) {
  a.need(a.h >= 8 && a.w >= 8, "images of at least 8x8 (three 2x2 poolings)");
  return make_cnn(cnn_width(width), a.c, a.classes, a.backend, a.gen);
}

// The one list of models: help texts, errors and tests take their names from here.
const std::vector<ZooEntry>& zoo() {
  static const std::vector<ZooEntry> all = {
      {"mlp",
       [](const BuildArgs& a) {
         return make_mlp(a.sample.numel(), {128}, a.classes, a.backend, a.gen);
       }},
      {"lenet",
       [](const BuildArgs& a) {
         bool mnist = a.h == 28 && a.w == 28, cifar = a.h == 32 && a.w == 32;
         a.need(mnist || cifar,
                "32x32 images (or 28x28 for the MNIST variant); try --image-size 32");
         return make_lenet(a.c, mnist, a.classes, a.backend, a.gen);
       }},
      {"resnet18", [](const BuildArgs& a) { return resnet18(a, false); }},
      {"resnet18-small", [](const BuildArgs& a) { return resnet18(a, true); }},
      {"cnn-small", [](const BuildArgs& a) { return cnn(a, "small"); }},
      {"cnn-medium", [](const BuildArgs& a) { return cnn(a, "medium"); }},
      {"cnn-large", [](const BuildArgs& a) { return cnn(a, "large"); }},
  };
  return all;
}

const ZooEntry& entry(const std::string& name) {
  std::string known;
  for (const auto& e : zoo()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw std::invalid_argument("unknown model '" + name + "'; known: " + known);
}
}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& e : zoo()) names.push_back(e.name);
  return names;
}

void check_model_name(const std::string& name) {
  entry(name);
}

std::shared_ptr<nn::Module> make_model(const std::string& name, const Shape& sample,
                                       int64_t classes, Backend& backend, Generator& gen) {
  const ZooEntry& model = entry(name);
  int64_t c = sample[0], h = sample[1], w = sample[2];
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("model " + name + " needs " + what + ", the data gives " + std::to_string(c) +
                                         "x" + std::to_string(h) + "x" + std::to_string(w) + " images");
  };
  return model.build({sample, c, h, w, classes, backend, gen, need});
}

}  // namespace nnlab::models
