// Where the time of a run goes, per op type: while a Profiler is active, every op nnlab/core/ops
// hands to a backend is timed on that backend's Stopwatch (device events on GPU backends, a
// steady clock after synchronising on CPU backends). Times are exclusive: an op that calls
// another (sum then scale) counts only its own part. Timing waits for every op to finish,
// so a profiled run is slower than an unprofiled one; the shares are what it is for.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "nnlab/core/backend.h"

namespace nnlab {

struct OpTotals {
  int64_t calls = 0;
  double seconds = 0;
};

class Profiler {
 public:
  Profiler();  // becomes the active profiler until destroyed (one at a time)
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;
  static Profiler* active();  // null when nothing is being profiled
  const std::map<Op, OpTotals>& by_op() const { return by_op_; }
  // The innermost op being timed, null between ops (cuda-sim's counters are labelled with it).
  const Op* current_op() const { return open_ops_.empty() ? nullptr : &open_ops_.back(); }

 private:
  friend class OpScope;
  std::map<Op, OpTotals> by_op_;
  std::vector<double> child_seconds_;  // per open OpScope, the time of the ops it called
  std::vector<Op> open_ops_;           // per open OpScope, its op
};

// Opened by nnlab/core/ops around each backend call: checks that the backend supports the op
// (require_op) and, under an active Profiler, times it.
class OpScope {
 public:
  OpScope(Backend& backend, Op op, DType dtype);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  Op op_;
  Profiler* profiler_ = nullptr;
  std::unique_ptr<Stopwatch> stopwatch_;
};

}  // namespace nnlab
