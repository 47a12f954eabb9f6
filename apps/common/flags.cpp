#include "apps/common/flags.h"

#include <iostream>

#include "apps/common/presets.h"
#include "nnlab/data/dataset.h"

namespace nnlab::apps {

void add_recipe_flags(CLI::App& app, ExperimentConfig& c) {
  // apply_preset_from_argv has applied it by now; parsing checks the name.
  std::vector<std::string> names;
  for (const auto& p : presets()) names.push_back(p.name);
  app.add_option("--experiment", c.experiment, "preset recipe: " + preset_names() + " (flags override its fields)")
      ->check(CLI::IsMember(names));
  app.add_option("--model", c.model, "mlp | lenet | resnet18 | resnet18-small | cnn-small | cnn-medium | cnn-large")
      ->capture_default_str();
  app.add_option("--data", c.data, "mnist | fashion-mnist | cifar10 | cifar10:DIR | folder:DIR")
      ->capture_default_str();
  app.add_option("--image-size", c.image_size, "pad fixed-size data to, or resize folder images to, this size")
      ->capture_default_str();
  app.add_option("--channels", c.channels, "1 or 3 (0: the data's own)")->capture_default_str();
  app.add_flag("--augment", c.augment, "random crop (padding 4) and horizontal flip while training");
  app.add_option("--epochs", c.epochs, "training epochs")->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "images per batch")->capture_default_str();
  app.add_option("--lr", c.lr, "learning rate")->capture_default_str();
  app.add_option("--optimizer", c.optimizer, "sgd | adam")->capture_default_str();
  app.add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "L2 weight decay")->capture_default_str();
  app.add_option("--seed", c.seed, "seed for initialisation and shuffling")->capture_default_str();
  app.add_option("--workers", c.workers, "data loader threads (0: load on the training thread)")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "compute threads of the cpu backend (0: all cores)")
      ->capture_default_str();
  app.add_option("--norm-mean", c.norm_mean, "x = (pixel/255 - mean) / std; one value or one per channel")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--norm-std", c.norm_std, "one value or one per channel, each > 0")->delimiter(',')->capture_default_str();
  app.add_option("--limit", c.limit, "train on the first N training images (0: all)")
      ->capture_default_str();
  app.add_option("--precision", c.precision,
                 "fp32 | tf32 (tensor cores, cudnn backend only; others say they used fp32) | fp16 | "
                 "bf16 (mixed precision as PyTorch's AMP: 16-bit GEMM/conv inputs, fp32 master "
                 "weights; fp16 with dynamic loss scaling; reference and cpu backends)")
      ->capture_default_str();
  app.add_flag("--check-numerics", c.check_numerics,
               "check every op output and gradient for NaN/infinity and name the first op (slow)");
  app.add_flag("--profile", c.profile,
               "time each phase of a training step and each op type, printed after the run");
  app.add_flag("--metrics", c.metrics,
               "with --profile on cuda-sim: count every kernel's memory accesses per op (global sectors, "
               "shared-memory bank conflicts, divergence, barriers, atomics, occupancy; slower)");
}

int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  try {
    return body();
  } catch (const std::invalid_argument& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\n";
    return kUsage;
  } catch (const data::DataError& e) {
    std::cerr << app.get_name() << ": data error: " << e.what() << "\n";
    return kRunFailed;
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    return kRunFailed;
  }
}

}  // namespace nnlab::apps
