// train: one model on one backend; per epoch the train loss, test accuracy, time, images/s
// and peak memory, after the backend and device it really used; --profile adds where the
// time of a training step went.
#include <cstdio>

#include "apps/common/flags.h"
#include "apps/common/report.h"
#include "nnlab/backends/registry.h"

using namespace nnlab::apps;

int main(int argc, char** argv) {
  CLI::App app("Train one model on one backend and report each epoch.", "train");
  ExperimentConfig config;
  apply_preset_from_argv(argc, argv, config);
  bool quiet = false;
  add_backend_flag(app, config);
  add_recipe_flags(app, config);
  app.add_option("--checkpoint", config.checkpoint,
                 "save model and optimizer here after every epoch");
  app.add_option("--resume", config.resume,
                 "continue from this checkpoint (same model, optimizer, seed)");
  app.add_flag("--quiet", quiet, "print only the per-epoch table (no progress, no run description)");
  return run_app(app, argc, argv, [&] {
    bool header_printed = false;
    ProgressReporter progress(quiet);
    RunResult result = run_experiment(config, console_hooks(quiet, progress, [&](const EpochStats& e) {
      if (!header_printed)
        std::printf("%-5s %10s %9s %9s %10s %11s\n", "epoch", "train_loss", "test_acc", "seconds",
                    "images/s", "peak_mem");
      header_printed = true;
      std::printf("%-5d %10.4f %8.2f%% %9.3f %10.0f %11s\n", e.epoch, e.train_loss,
                  100 * e.test_accuracy, e.train_seconds, e.images_per_second,
                  format_bytes(e.peak_bytes).c_str());
      if (e.loss_scale > 0) print_loss_scaling(e);
      if (e.one_thread_steps > 0) print_one_thread_steps(e);
    }));
    if (config.profile) print_profile(result);
    return int(kOk);
  });
}
