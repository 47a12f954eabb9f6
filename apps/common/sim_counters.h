// cuda-sim's memory counters (nnlab/sim/observe.h) as the apps report them: what the kernels
// of one call (bench_ops --metrics) or of one op over a run (--profile --metrics) did, in total
// and per kernel. Counts of a simulation: exact for the accesses the kernels make, never times.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nnlab/sim/observe.h"

namespace nnlab::apps {

struct KernelCounters {
  std::string kernel;  // as launched
  int64_t launches = 0;
  sim::Counters counters;
  sim::OccupancyReport occupancy;  // of its first launch here
};

struct SimCounters {
  int64_t launches = 0;
  sim::Counters total;
  std::vector<KernelCounters> kernels;  // in the order they first ran
  void add(const sim::LaunchMetrics& m);
};

// Runs f with the observed cuda-sim kernels recording; what they did.
SimCounters count_sim_kernels(const std::function<void()>& f);

// The totals on one line, then a line per kernel with its occupancy, each after `indent`.
void print_sim_counters(const SimCounters& c, const std::string& indent);
nlohmann::json to_json(const SimCounters& c);

}  // namespace nnlab::apps
