#include "nnlab/core/profiler.h"

#include <stdexcept>

namespace nnlab {
namespace {
Profiler* g_active = nullptr;  // ops run on the training thread only
}

Profiler::Profiler() {
  if (g_active) throw std::logic_error("a Profiler is already active");
  g_active = this;
}
Profiler::~Profiler() { g_active = nullptr; }
Profiler* Profiler::active() { return g_active; }

OpScope::OpScope(Backend& backend, Op op, DType dtype) : op_(op), profiler_(Profiler::active()) {
  require_op(backend, op, dtype);
  if (!profiler_) return;
  stopwatch_ = backend.make_stopwatch();
  profiler_->child_seconds_.push_back(0);
  profiler_->open_ops_.push_back(op);
  stopwatch_->start();
}

OpScope::~OpScope() {
  if (!profiler_) return;
  double seconds = 0;
  try {
    seconds = stopwatch_->stop_seconds();
  } catch (const std::exception&) {
    // The op failed on the device; its error surfaces at the next checked call, not here.
  }
  double children = profiler_->child_seconds_.back();
  profiler_->child_seconds_.pop_back();
  profiler_->open_ops_.pop_back();
  OpTotals& totals = profiler_->by_op_[op_];
  totals.calls += 1;
  totals.seconds += seconds > children ? seconds - children : 0;
  if (!profiler_->child_seconds_.empty()) profiler_->child_seconds_.back() += seconds;
}

}  // namespace nnlab
