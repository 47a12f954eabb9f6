#include "apps/common/flags.h"

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <sstream>

#include "apps/common/presets.h"
#include "nnlab/backends/registry.h"
#include "nnlab/data/dataset.h"
#include "nnlab/data/image_folder.h"
#include "nnlab/distributed/world.h"
#include "nnlab/models/zoo.h"

namespace nnlab::apps {
namespace {
std::string join(const std::vector<std::string>& names, const std::string& separator) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : separator) + n;
  return s;
}

// Seeds take all of uint64's range and nothing else: CLI11 alone would clamp -1 and 2^64 to
// 2^64 - 1 without a word.
CLI::Validator seed_range() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t seed = 0;
        const char* end = text.data() + text.size();
        auto [stop, error] = std::from_chars(text.data(), end, seed);
        if (error == std::errc() && stop == end) return "";
        return "must be an integer in [0, " + std::to_string(std::numeric_limits<uint64_t>::max()) +
               "], got '" + text + "'";
      },
      "");
}

CLI::Validator finite_flag(const std::string& flag) {
  return finite_in(number_range(flag));
}
}  // namespace

CLI::Validator finite_in(const NumberRange& range) {
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        char* end = nullptr;
        double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return "";  // not a number: conversion says so
        return number_problem(range, value);
      },
      "");
}

void add_backend_flag(CLI::App& app, ExperimentConfig& c) {
  app.add_option("--backend", c.backend, join(known_backends(), " | "))->capture_default_str();
}

void add_recipe_flags(CLI::App& app, ExperimentConfig& c) {
  // apply_preset_from_argv has applied it by now; parsing checks the name.
  std::vector<std::string> names;
  for (const auto& p : presets()) names.push_back(p.name);
  app.add_option("--experiment", c.experiment, "preset recipe: " + preset_names() + " (flags override its fields)")
      ->check(CLI::IsMember(names));
  app.add_option("--model", c.model, join(models::model_names(), " | "))->capture_default_str();
  app.add_option(
         "--data", c.data,
         data_choices(" | ") + " (DIR/<class>/<image>, or DIR/train/<class> and DIR/val/<class>)")
      ->capture_default_str();
  std::ostringstream default_fraction;
  default_fraction << data::kDefaultValidationFraction;
  app.add_option_function<double>(
         "--val-fraction", [&c](const double& v) { c.val_fraction = v; },
         "folder:DIR with one folder per class: share of each class held out for validation, by a "
         "fixed split (default " +
             default_fraction.str() + ")")
      ->check(finite_flag("--val-fraction"));
  app.add_option("--image-size", c.image_size, "pad fixed-size data to, or resize folder images to, this size")
      ->capture_default_str();
  app.add_option("--channels", c.channels, "1 or 3 (0: the data's own)")->capture_default_str();
  app.add_flag("--augment", c.augment, "random crop (padding 4) and horizontal flip while training");
  app.add_option("--epochs", c.epochs, "training epochs")->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "images per batch")->capture_default_str();
  app.add_option("--lr", c.lr, "learning rate")->check(finite_flag("--lr"))->capture_default_str();
  app.add_option("--optimizer", c.optimizer, "sgd | adam")->capture_default_str();
  app.add_option("--momentum", c.momentum, "SGD momentum (Adam takes none)")
      ->check(finite_flag("--momentum"))
      ->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "L2 weight decay")
      ->check(finite_flag("--weight-decay"))
      ->capture_default_str();
  app.add_option("--seed", c.seed, "seed for initialisation and shuffling")
      ->check(seed_range())
      ->capture_default_str();
  app.add_option("--workers", c.workers, "data loader threads (0: load on the training thread)")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "compute threads of the cpu backend (0: all cores)")
      ->capture_default_str();
  app.add_flag("--fixed-threads", c.fixed_threads,
               "run every training step on --threads threads; by default short steps are timed on one "
               "thread now and then and run on one while that is faster (the results are the same)");
  app.add_option("--norm-mean", c.norm_mean,
                 "x = (pixel/255 - mean) / std; one value or one per channel")
      ->delimiter(',')
      ->check(finite_flag("--norm-mean"))
      ->capture_default_str();
  app.add_option("--norm-std", c.norm_std,
                 "one value or one per channel, each " + number_range("--norm-std").str())
      ->delimiter(',')
      ->check(finite_flag("--norm-std"))
      ->capture_default_str();
  app.add_option("--limit", c.limit, "train on the first N training images (0: all)")
      ->capture_default_str();
  app.add_option("--precision", c.precision,
                 "fp32 | tf32 (tensor cores, cudnn backend only; others say they used fp32) | fp16 | "
                 "bf16 (mixed precision as PyTorch's AMP: 16-bit GEMM/conv inputs, fp32 master "
                 "weights; fp16 with dynamic loss scaling; every backend)")
      ->capture_default_str();
  app.add_flag("--check-numerics", c.check_numerics,
               "check every op output and gradient for NaN/infinity and name the first op (slow)");
  app.add_flag("--profile", c.profile,
               "time each phase of a training step and each op type, printed after the run");
  app.add_flag("--metrics", c.metrics,
               "with --profile on cuda-sim: count every kernel's memory accesses per op (global sectors, "
               "shared-memory bank conflicts, divergence, barriers, atomics, occupancy; slower), and the time "
               "cuda-sim's timing model predicts for --gpu");
  app.add_option("--gpu", c.gpu,
                 "with --metrics: the GPU of the predicted times, a key of nnlab/sim/gpus.json (docs/gpu_model.md)")
      ->capture_default_str();
  app.add_option("--bucket-kib", c.bucket_kib,
                 "under mpirun/srun: gradient all-reduce bucket capacity, KiB")
      ->capture_default_str();
  app.add_flag(
      "--no-overlap{false}", c.overlap,
      "under mpirun/srun: start every gradient all-reduce after backward instead of during it");
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
  // A process started by mpirun or srun joins the other ranks; a failing rank ends them all
  // (MPI_Abort) with its message, so none waits for it in a collective.
  std::string name = app.get_name();
  auto fail = [&](int code, const std::string& kind, const char* what) {
    const distributed::World& world = distributed::world();
    std::string who = world.launched ? name + " (rank " + std::to_string(world.rank) + " of " +
                                           std::to_string(world.size) + ")"
                                     : name;
    std::cerr << who << ": " << kind << what << std::endl;
    if (world.launched) distributed::abort_all(code);
    return code;
  };
  try {
    const distributed::World& world = distributed::init(&argc, &argv);
    // Rank 0 alone prints; the others' errors still reach stderr.
    if (!world.primary() && !std::freopen("/dev/null", "w", stdout))
      throw std::runtime_error("cannot silence the standard output of rank " +
                               std::to_string(world.rank));
    int code = body();
    distributed::finalize();
    return code;
  } catch (const std::invalid_argument& e) {
    return fail(kUsage, "", e.what());
  } catch (const data::DataError& e) {
    return fail(kRunFailed, "data error: ", e.what());
  } catch (const std::exception& e) {
    return fail(kRunFailed, "error: ", e.what());
  }
}

}  // namespace nnlab::apps
