#include "apps/common/report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "nnlab/backends/registry.h"

namespace nnlab::apps {

ProgressReporter::ProgressReporter(bool quiet) : quiet_(quiet), terminal_(isatty(2) != 0) {}

void ProgressReporter::update(const Progress& p) {
  if (quiet_ || p.images_per_epoch <= 0) return;
  auto now = std::chrono::steady_clock::now();
  if (!started_) {  // the interval counts from the first step, so short epochs print nothing
    started_ = true;
    last_ = now;
  }
  double since_last = std::chrono::duration<double>(now - last_).count();
  // A terminal line is redrawn 5 times a second; a log gets a line every 10 seconds.
  if (since_last < (terminal_ ? 0.2 : 10.0)) return;
  last_ = now;
  double rate = p.epoch_seconds > 0 ? double(p.images_done) / p.epoch_seconds : 0;
  int64_t images_left = (p.images_per_epoch - p.images_done) +
                        int64_t(p.epochs - p.epoch) * p.images_per_epoch;
  double eta = rate > 0 ? double(images_left) / rate : 0;
  std::fprintf(stderr, "%sepoch %d/%d %5.1f%%  %.0f images/s  ETA %dm%02ds%s",
               terminal_ ? "\r" : "", p.epoch, p.epochs,
               100.0 * double(p.images_done) / double(p.images_per_epoch), rate,
               int(eta) / 60, int(eta) % 60, terminal_ ? "\033[K" : "\n");
  std::fflush(stderr);
  line_open_ = terminal_;
}

void ProgressReporter::clear() {
  if (line_open_) std::fprintf(stderr, "\r\033[K");
  line_open_ = false;
}

RunHooks console_hooks(bool quiet, ProgressReporter& progress,
                       std::function<void(const EpochStats&)> on_epoch) {
  RunHooks hooks;
  if (!quiet) hooks.announce = [](const std::string& line) { std::printf("# %s\n", line.c_str()); };
  hooks.on_progress = [&progress](const Progress& p) { progress.update(p); };
  hooks.on_epoch = [&progress, on_epoch](const EpochStats& e) {
    progress.clear();
    if (on_epoch) on_epoch(e);
    std::fflush(stdout);
  };
  return hooks;
}

void print_epoch_line(const EpochStats& e) {
  std::printf("  epoch %d: loss %.4f, test accuracy %.2f%%, %.3f s, %.0f images/s\n", e.epoch,
              e.train_loss, 100 * e.test_accuracy, e.train_seconds, e.images_per_second);
  if (e.loss_scale > 0) print_loss_scaling(e);
}

void print_loss_scaling(const EpochStats& e) {
  std::printf("# epoch %d loss scaling: %lld steps skipped (inf/NaN gradients), scale now %g\n",
              e.epoch, static_cast<long long>(e.skipped_steps), e.loss_scale);
}

void print_profile(const RunResult& run) {
  const RunProfile& p = run.profile;
  double total = p.data_wait + p.upload + p.forward + p.backward + p.optimizer;
  if (p.steps == 0 || total <= 0) return;
  auto share = [total](double s) { return 100.0 * s / total; };
  std::printf("\nprofile of %s: %lld training steps, %.3f s (every phase waits for the backend)\n",
              run.backend.c_str(), static_cast<long long>(p.steps), total);
  std::printf("  %-22s %10s %10s %7s\n", "phase", "total_ms", "ms/step", "share");
  for (auto [name, seconds] : {std::pair{"waiting for data", p.data_wait},
                               std::pair{"host-to-device copy", p.upload},
                               std::pair{"forward", p.forward}, std::pair{"backward", p.backward},
                               std::pair{"optimizer", p.optimizer}})
    std::printf("  %-22s %10.1f %10.3f %6.1f%%\n", name, 1e3 * seconds,
                1e3 * seconds / double(p.steps), share(seconds));
  std::vector<std::pair<Op, OpTotals>> ops(p.ops.begin(), p.ops.end());
  std::sort(ops.begin(), ops.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double op_total = 0;
  for (const auto& [op, t] : ops) op_total += t.seconds;
  std::printf("  %-22s %10s %10s %7s %10s\n", "op", "total_ms", "calls", "share", "us/call");
  for (const auto& [op, t] : ops)
    std::printf("  %-22s %10.1f %10lld %6.1f%% %10.1f\n", op_name(op), 1e3 * t.seconds,
                static_cast<long long>(t.calls), share(t.seconds),
                1e6 * t.seconds / double(std::max<int64_t>(t.calls, 1)));
  std::printf("  %-22s %10.1f %10s %6.1f%%  (phases minus ops: the host's own work%s)\n",
              "outside ops", 1e3 * (total - op_total), "", share(total - op_total),
              get_backend(run.backend).is_gpu() ? ", kernel launches included" : "");
  if (p.counters.empty()) return;
  std::printf("\nmemory counters of %s's kernels per op over the %lld steps (counts, not times):\n",
              run.backend.c_str(), static_cast<long long>(p.steps));
  for (const auto& [op, t] : ops) {
    auto it = p.counters.find(op_name(op));
    if (it == p.counters.end()) continue;
    std::printf("  %s (%lld launches)\n", op_name(op), static_cast<long long>(it->second.launches));
    print_sim_counters(it->second, "    ");
  }
}

}  // namespace nnlab::apps
