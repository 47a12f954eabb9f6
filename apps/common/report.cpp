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
  if (e.one_thread_steps > 0) print_one_thread_steps(e);
}

void print_loss_scaling(const EpochStats& e) {
  std::printf("# epoch %d loss scaling: %lld steps skipped (inf/NaN gradients), scale now %g\n",
              e.epoch, static_cast<long long>(e.skipped_steps), e.loss_scale);
}

void print_one_thread_steps(const EpochStats& e) {
  std::printf("# epoch %d: %lld steps on one thread (timed against --threads now and then, kept while "
              "faster; the same results; --fixed-threads: never)\n",
              e.epoch, static_cast<long long>(e.one_thread_steps));
}

void print_allreduce(const distributed::AllReduceStats& a, const std::string& transport) {
  if (a.steps == 0) return;
  double steps = double(a.steps);
  double in_flight = a.in_flight_seconds / steps, during = a.during_backward_seconds / steps;
  std::printf("  all-reduce over %s: %lld buckets, %s per step\n", transport.c_str(),
              static_cast<long long>(a.buckets), format_bytes(size_t(a.bytes)).c_str());
  std::printf(
      "    in flight %.3f ms/step, of which %.3f ms (%.0f%%) while backward still ran; "
      "%.3f ms/step after backward to finish (wait, average)\n",
      1e3 * in_flight, 1e3 * during, in_flight > 0 ? 100 * during / in_flight : 0.0,
      1e3 * a.finish_seconds / steps);
  std::printf(
      "    buckets per step started during backward %.1f, complete before it ended %.1f "
      "(completion seen at the next gradient hook)\n",
      double(a.buckets_started_in_backward) / steps, double(a.buckets_done_in_backward) / steps);
}

void print_profile(const RunResult& run) {
  const RunProfile& p = run.profile;
  double total = p.data_wait + p.upload + p.forward + p.backward + p.allreduce_wait + p.optimizer;
  if (p.steps == 0 || total <= 0) return;
  auto share = [total](double s) { return 100.0 * s / total; };
  std::string ranks = run.ranks > 1 ? " (rank 0 of " + std::to_string(run.ranks) + ")" : "";
  std::printf(
      "\nprofile of %s%s: %lld training steps, %.3f s (every phase waits for the backend)\n",
      run.backend.c_str(), ranks.c_str(), static_cast<long long>(p.steps), total);
  std::printf("  %-22s %10s %10s %7s\n", "phase", "total_ms", "ms/step", "share");
  for (auto [name, seconds] :
       {std::pair{"waiting for data", p.data_wait}, std::pair{"host-to-device copy", p.upload},
        std::pair{"forward", p.forward}, std::pair{"backward", p.backward},
        std::pair{"gradient all-reduce", p.allreduce_wait}, std::pair{"optimizer", p.optimizer}})
    if (seconds > 0 || std::string(name) != "gradient all-reduce")
      std::printf("  %-22s %10.1f %10.3f %6.1f%%\n", name, 1e3 * seconds,
                  1e3 * seconds / double(p.steps), share(seconds));
  if (!run.transport.empty()) print_allreduce(p.allreduce, run.transport);
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
  if (!p.gpu) return;
  // The model's time for every kernel the training steps launched (evaluation not included).
  double predicted = 0;
  for (const auto& [label, counters] : p.counters) predicted += counters.predicted_seconds;
  double per_step = predicted / double(p.steps), steps_per_epoch = double(p.steps) / double(run.epochs.size());
  std::printf("\npredicted on %s (%s), cuda-sim's timing model (docs/gpu_model.md), not measured: %s per training step "
              "(kernels only), %s per epoch of %.0f steps\n",
              p.gpu->key.c_str(), p.gpu->name.c_str(), sim::format_seconds(per_step).c_str(),
              sim::format_seconds(per_step * steps_per_epoch).c_str(), steps_per_epoch);
}

}  // namespace nnlab::apps
