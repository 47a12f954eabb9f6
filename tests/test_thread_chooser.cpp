// The training loop's thread chooser (apps/common/thread_chooser.h), driven with made-up step
// times that depend on the cpu backend's thread count.
#include <doctest/doctest.h>

#include "apps/common/thread_chooser.h"
#include "nnlab/backends/registry.h"

using namespace nnlab;
using namespace nnlab::apps;

namespace {
using C = ThreadChooser;

// Runs `steps` steps whose seconds are `on_one` on one thread and `on_full` otherwise; returns
// how many ran on one thread (and checks that the chooser counted them).
int64_t run_steps(C& chooser, Backend& be, int64_t steps, double on_one, double on_full) {
  int64_t one = 0;
  for (int64_t i = 0; i < steps; ++i) {
    one += be.threads() == 1;
    chooser.step_done(be.threads() == 1 ? on_one : on_full);
  }
  CHECK(chooser.take_one_thread_steps() == one);
  return one;
}

struct ThreadsRestored {  // the shared cpu backend back to its count whatever a case does
  Backend& be;
  int threads = be.threads();
  ~ThreadsRestored() { be.set_threads(threads); }
};
}  // namespace

TEST_CASE("thread chooser: when all threads slow down, one thread while it is faster, then back") {
  Backend& be = get_backend("cpu");
  ThreadsRestored restore{be};
  be.set_threads(2);
  {
    C chooser(be, true);
    // A machine that does not slow down is probed once, after the warm-up and one window.
    CHECK(run_steps(chooser, be, C::kWarmupSteps + 300 * C::kWindow, 3e-4, 1e-4) == C::kWindow);
    CHECK(be.threads() == 2);
    // Steps on 2 threads 4x slower: the next window probes one thread, which wins and stays
    // for the first interval; then 2 threads are timed again, lose, and one thread stays for
    // twice as long.
    CHECK(run_steps(chooser, be, C::kWindow, 3e-4, 4e-4) == 0);
    CHECK(be.threads() == 1);
    CHECK(run_steps(chooser, be, C::kWindow + C::kFirstInterval, 3e-4, 4e-4) == C::kWindow + C::kFirstInterval);
    CHECK(run_steps(chooser, be, C::kWindow, 3e-4, 4e-4) == 0);
    CHECK(be.threads() == 1);
    // The slow phase ends: after the doubled interval, 2 threads are timed again and stay.
    CHECK(run_steps(chooser, be, 2 * C::kFirstInterval, 3e-4, 1e-4) == 2 * C::kFirstInterval);
    CHECK(run_steps(chooser, be, C::kWindow, 3e-4, 1e-4) == 0);
    CHECK(be.threads() == 2);
    CHECK(run_steps(chooser, be, 100 * C::kWindow, 3e-4, 1e-4) == 0);
    CHECK(run_steps(chooser, be, C::kWindow, 3e-4, 4e-4) == 0);
    CHECK(be.threads() == 1);  // slowed again: probing again
  }
  CHECK(be.threads() == 2);  // the destructor restores the backend's count
}

TEST_CASE("thread chooser: one thread must be faster by the margin, and a lost probe waits") {
  Backend& be = get_backend("cpu");
  ThreadsRestored restore{be};
  be.set_threads(2);
  C chooser(be, true);
  CHECK(run_steps(chooser, be, C::kWarmupSteps + C::kWindow + C::kWindow + 300 * C::kWindow, 3.9e-4, 1e-4) ==
        C::kWindow);  // the first probe; then a long stretch, well past its wait
  // Slowed to 4e-4 on 2 threads, 3.9e-4 on one: within the margin, so back to 2 after the probe.
  CHECK(run_steps(chooser, be, 2 * C::kWindow, 3.9e-4, 4e-4) == C::kWindow);
  CHECK(be.threads() == 2);
  // No probe for the interval, however slow (counted in whole windows); then the next one.
  CHECK(run_steps(chooser, be, C::kFirstInterval, 3.9e-4, 4e-4) == 0);
  CHECK(run_steps(chooser, be, 4 * C::kWindow, 3.9e-4, 4e-4) == C::kWindow);
  CHECK(be.threads() == 2);
}

TEST_CASE("thread chooser: long steps, one thread asked for, or off: never one thread") {
  Backend& be = get_backend("cpu");
  ThreadsRestored restore{be};
  const int64_t steps = C::kWarmupSteps + 100 * C::kWindow;
  be.set_threads(2);
  {
    C chooser(be, true);  // steps of 50 ms, then 5x slower: threads pay, never probed
    CHECK(run_steps(chooser, be, steps, 1e-4, 0.05) == 0);
    CHECK(run_steps(chooser, be, steps, 1e-4, 0.25) == 0);
  }
  {
    C chooser(be, false);  // --fixed-threads
    CHECK(run_steps(chooser, be, steps, 1e-4, 2e-4) == 0);
    CHECK(run_steps(chooser, be, steps, 1e-4, 8e-4) == 0);
  }
  be.set_threads(1);
  {
    C chooser(be, true);  // nothing to choose, and nothing counted
    for (int64_t i = 0; i < steps; ++i) chooser.step_done(1e-4);
    CHECK(be.threads() == 1);
    CHECK(chooser.take_one_thread_steps() == 0);
  }
}
