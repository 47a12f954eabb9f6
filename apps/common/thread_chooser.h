// The training loop's choice between the backend's thread count and one thread, made by
// timing steps on each when the steps on all threads slow down.
//
// Why: on a machine whose cores are shared, two threads can get one core's worth of work done
// (this project's 2-vCPU VM does so in phases of seconds to minutes; a laptop busy with other
// work does too). A thread that waits between parallel regions by spinning then takes cycles
// from the one that works, and short steps run faster on one thread: the MLP's epoch took
// 0.38-0.44 s on two threads in such a phase against 0.33 s on one (0.20-0.24 s on two
// otherwise). Every op's result is bit-identical for any thread count, so the choice changes
// only the time, never a loss or a weight.
//
// How: steps are timed in windows of kWindow; each window's median on the full count is compared
// with the best such median so far. The first window, and then a window kSlowdown times the best
// or slower, starts a probe: kWindow steps on one thread, chosen if faster by kMargin. On one
// thread, the full count is timed again after an interval that doubles each time one thread
// stays ahead (kFirstInterval to kLongestInterval steps); after a probe that one thread lost,
// the next waits as long. A machine that never slows is probed once. Steps of kLongStep or more
// are left alone: their parallel regions are long enough for the threads to pay, and a window on
// one thread would cost seconds.
#pragma once
#include <cstdint>
#include <vector>

namespace nnlab {
class Backend;
}

namespace nnlab::apps {

class ThreadChooser {
 public:
  static constexpr int64_t kWarmupSteps = 32, kWindow = 12;
  static constexpr int64_t kFirstInterval = 256, kLongestInterval = 4096;
  static constexpr double kSlowdown = 1.3, kMargin = 0.95, kLongStep = 0.02;  // seconds

  // Chooses only when `enabled` and the backend runs more than one thread.
  ThreadChooser(Backend& backend, bool enabled);
  // The backend's count restored at the run's end.
  ~ThreadChooser();
  // After every training step, with its seconds.
  void step_done(double seconds);
  // Steps run on one thread (probes included) since the last call; resets the count.
  int64_t take_one_thread_steps();

 private:
  enum class Phase { Warmup, Watch, ProbeOne, OnOne, ProbeFull, Off };
  double window_median();  // of the window just completed; clears it

  Backend& backend_;
  const int full_;
  Phase phase_;
  int64_t left_ = kWarmupSteps, interval_ = kFirstInterval, wait_ = 0, one_thread_steps_ = 0;
  bool first_probe_ = true;  // the next probe is the run's first
  double best_full_ = 0, last_median_ = 0;  // best window median on the full count; the last
  std::vector<double> window_;
};

}  // namespace nnlab::apps
