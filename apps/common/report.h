// What the apps print while and after a run: the announcement lines, progress with images/s
// and ETA (a line rewritten in place on a terminal, a plain line every 10 s otherwise, on
// stderr so the tables on stdout stay clean), and the --profile table.
#pragma once
#include <chrono>
#include <string>

#include "apps/common/experiment.h"

namespace nnlab::apps {

class ProgressReporter {
 public:
  explicit ProgressReporter(bool quiet);
  void update(const Progress& p);
  void clear();  // ends the in-place line before other output

 private:
  bool quiet_, terminal_;
  bool line_open_ = false;
  std::chrono::steady_clock::time_point last_;
  bool started_ = false;
};

// Hooks that print the announcement ("# ..." lines) and progress unless quiet, and call
// on_epoch (after clearing the progress line) for each finished epoch.
RunHooks console_hooks(bool quiet, ProgressReporter& progress,
                       std::function<void(const EpochStats&)> on_epoch);

// The line compare_devices and sweep print after each epoch.
void print_epoch_line(const EpochStats& e);
// --precision fp16: the epoch's skipped steps and the loss scale at its end.
void print_loss_scaling(const EpochStats& e);
// "# epoch N: S steps on one thread, ...": the thread chooser's (apps/common/thread_chooser.h).
void print_one_thread_steps(const EpochStats& e);

// The --profile table: each phase's share of the training time, then the op types by time;
// for a data-parallel run also what the gradient all-reduce cost and how much of it overlapped
// backward (print_allreduce).
void print_profile(const RunResult& run);
void print_allreduce(const distributed::AllReduceStats& stats, const std::string& transport);

}  // namespace nnlab::apps
