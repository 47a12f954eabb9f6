// cuda-sim's memory counters (nnlab/sim/observe.h) as the apps report them: what the kernels
// of one call (bench_ops --metrics) or of one op over a run (--profile --metrics) did, in total
// and per kernel. Counts of a simulation: exact for the accesses the kernels make, never times;
// with a GPU named (--gpu), also the time cuda-sim's timing model predicts for it
// (nnlab/sim/gpu_model.h), always labelled predicted.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nnlab/sim/gpu_model.h"
#include "nnlab/sim/observe.h"

namespace nnlab::apps {

struct KernelCounters {
  std::string kernel;  // as launched
  int64_t launches = 0;
  sim::Counters counters;
  sim::OccupancyReport occupancy;  // of its first launch here
  double predicted_seconds = 0;    // on SimCounters::gpu, all its launches
};

struct SimCounters {
  int64_t launches = 0;
  sim::Counters total;
  std::vector<KernelCounters> kernels;  // in the order they first ran
  const sim::GpuSpec* gpu = nullptr;    // the GPU of the predictions (none: no prediction)
  double predicted_seconds = 0;         // the timing model's, all launches on `gpu`
  void add(const sim::LaunchMetrics& m);
};

// Runs f with the observed cuda-sim kernels recording; what they did, and with `gpu` the
// model's predicted time for it.
SimCounters count_sim_kernels(const std::function<void()>& f, const sim::GpuSpec* gpu = nullptr);

// The totals on one line, then a line per kernel with its occupancy, each after `indent`.
void print_sim_counters(const SimCounters& c, const std::string& indent);
nlohmann::json to_json(const SimCounters& c);

}  // namespace nnlab::apps
