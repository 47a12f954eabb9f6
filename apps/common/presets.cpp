#include "apps/common/presets.h"

#include <cstring>

namespace nnlab::apps {

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {
      {"mnist-mlp", "MLP 784-128-10 on MNIST, SGD lr 0.01, batch 64, 5 epochs (the default)",
       [](ExperimentConfig&) {}},
      {"mnist-mlp-adam", "MLP on MNIST, Adam lr 1e-3, batch 64, 50 epochs, seed 0",
       [](ExperimentConfig& c) {
         c.optimizer = "adam";
         c.lr = 1e-3;
         c.epochs = 50;
       }},
      {"cifar10-lenet", "LeNet on CIFAR-10, Adam lr 1e-3, batch 64, 10 epochs, Normalize(0.5, 0.5)",
       [](ExperimentConfig& c) {
         c.model = "lenet";
         c.data = "cifar10";
         c.optimizer = "adam";
         c.lr = 1e-3;
         c.epochs = 10;
         c.norm_mean = {0.5f};
         c.norm_std = {0.5f};
       }},
      {"folder-resnet18",
       "ResNet-18 on an image folder (--data folder:DIR), 224x224, SGD lr 0.01 momentum 0.9, "
       "batch 32, 3 epochs, ImageNet normalisation",
       [](ExperimentConfig& c) {
         c.model = "resnet18";
         c.data = "folder:";  // validate() asks for the directory
         c.image_size = 224;
         c.channels = 3;
         c.lr = 0.01;
         c.momentum = 0.9;
         c.batch_size = 32;
         c.epochs = 3;
         c.norm_mean = {0.485f, 0.456f, 0.406f};
         c.norm_std = {0.229f, 0.224f, 0.225f};
       }},
  };
  return all;
}

std::string preset_names() {
  std::string names;
  for (const auto& p : presets()) names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

void apply_preset_from_argv(int argc, char** argv, ExperimentConfig& config) {
  for (int i = 1; i < argc; ++i) {
    std::string name;
    if (std::strcmp(argv[i], "--experiment") == 0 && i + 1 < argc)
      name = argv[i + 1];
    else if (std::strncmp(argv[i], "--experiment=", 13) == 0)
      name = argv[i] + 13;
    else
      continue;
    for (const auto& p : presets())
      if (p.name == name) {
        config = ExperimentConfig{};  // presets start from the defaults (mnist-mlp)
        p.apply(config);
        config.experiment = name;
      }
    return;  // an unknown name is a usage error when the flags are parsed
  }
}

}  // namespace nnlab::apps
