#include "apps/common/thread_chooser.h"

#include <algorithm>
#include <utility>

#include "nnlab/core/backend.h"

namespace nnlab::apps {

ThreadChooser::ThreadChooser(Backend& backend, bool enabled)
    : backend_(backend),
      full_(backend.threads()),
      phase_(enabled && full_ > 1 ? Phase::Warmup : Phase::Off) {}

ThreadChooser::~ThreadChooser() {
  if (backend_.threads() != full_) backend_.set_threads(full_);
}

double ThreadChooser::window_median() {
  std::nth_element(window_.begin(), window_.begin() + kWindow / 2, window_.end());
  const double median = window_[kWindow / 2];
  window_.clear();
  return median;
}

void ThreadChooser::step_done(double seconds) {
  if (full_ > 1 && backend_.threads() == 1) ++one_thread_steps_;
  if (phase_ == Phase::Off) return;
  if (phase_ == Phase::Warmup || phase_ == Phase::OnOne) {  // steps not timed
    if (--left_ > 0) return;
    if (phase_ == Phase::OnOne) backend_.set_threads(full_);
    phase_ = phase_ == Phase::Warmup ? Phase::Watch : Phase::ProbeFull;
    return;
  }
  window_.push_back(seconds);
  if (int64_t(window_.size()) < kWindow) return;
  const double median = window_median();
  switch (phase_) {
    case Phase::Watch:
      if (best_full_ == 0 && median >= kLongStep) {  // long steps: threads pay
        phase_ = Phase::Off;
        return;
      }
      if (best_full_ == 0 || median < best_full_) best_full_ = median;
      if (wait_ > 0) {
        wait_ -= kWindow;
        return;
      }
      // The first window is always compared with one thread: a run that starts in a slow
      // phase has no faster window on all threads to compare with.
      if (first_probe_ || median >= kSlowdown * best_full_) {  // slowed down: time one thread
        last_median_ = median;
        backend_.set_threads(1);
        phase_ = Phase::ProbeOne;
      }
      return;
    case Phase::ProbeOne:
      if (median < kMargin * last_median_) {  // one thread ahead: stay for an interval
        phase_ = Phase::OnOne;
        left_ = interval_;
      } else {  // all threads ahead: wait before probing again (not after the first probe)
        backend_.set_threads(full_);
        phase_ = Phase::Watch;
        if (!first_probe_) {
          wait_ = interval_;
          interval_ = std::min(2 * interval_, kLongestInterval);
        }
      }
      first_probe_ = false;
      last_median_ = median;
      return;
    case Phase::ProbeFull:
      if (median < best_full_) best_full_ = median;
      if (last_median_ < kMargin * median) {  // one thread still ahead
        backend_.set_threads(1);
        phase_ = Phase::OnOne;
        interval_ = std::min(2 * interval_, kLongestInterval);
        left_ = interval_;
      } else {  // the slow phase is over
        phase_ = Phase::Watch;
        interval_ = kFirstInterval;
      }
      return;
    default:
      return;
  }
}

int64_t ThreadChooser::take_one_thread_steps() {
  return std::exchange(one_thread_steps_, 0);
}

}  // namespace nnlab::apps
