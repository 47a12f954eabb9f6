#include "apps/common/sim_counters.h"

#include <cstdio>

namespace nnlab::apps {

void SimCounters::add(const sim::LaunchMetrics& m) {
  ++launches;
  total += m.total;
  double predicted = gpu ? sim::predict(m, *gpu).seconds : 0;
  predicted_seconds += predicted;
  for (KernelCounters& k : kernels)
    if (k.kernel == m.kernel) {
      ++k.launches;
      k.counters += m.total;
      k.predicted_seconds += predicted;
      return;
    }
  kernels.push_back({m.kernel, 1, m.total, m.occupancy, predicted});
}

SimCounters count_sim_kernels(const std::function<void()>& f, const sim::GpuSpec* gpu) {
  SimCounters out;
  out.gpu = gpu;
  sim::Recording recording;
  recording.on_launch = [&](sim::LaunchMetrics&& m) { out.add(m); };
  f();
  return out;
}

void print_sim_counters(const SimCounters& c, const std::string& indent) {
  std::printf("%s%s\n", indent.c_str(), sim::metrics_line(c.total).c_str());
  std::string unavailable;
  for (const KernelCounters& k : c.kernels) {
    bool known = !k.occupancy.architectures.empty();
    std::printf("%s  %s x%lld%s%s%s\n", indent.c_str(), k.kernel.c_str(), static_cast<long long>(k.launches),
                known ? ": " : "", known ? sim::occupancy_line(k.occupancy).c_str() : "",
                c.gpu ? ("; predicted on " + c.gpu->key + " " + sim::format_seconds(k.predicted_seconds)).c_str() : "");
    if (!known) unavailable = k.occupancy.unavailable;
  }
  if (!unavailable.empty()) std::printf("%s  occupancy %s\n", indent.c_str(), unavailable.c_str());
  if (c.gpu)
    std::printf("%s  predicted on %s: %s (cuda-sim's timing model, docs/gpu_model.md; not measured)\n", indent.c_str(),
                c.gpu->key.c_str(), sim::format_seconds(c.predicted_seconds).c_str());
}

nlohmann::json to_json(const SimCounters& c) {
  auto values = [](const sim::Counters& counters) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& v : sim::metric_values(counters)) j[v.name] = v.value;
    return j;
  };
  nlohmann::json j = {{"launches", c.launches}, {"total", values(c.total)}, {"kernels", nlohmann::json::array()}};
  if (c.gpu) j["predicted"] = {{"gpu", c.gpu->key}, {"seconds", c.predicted_seconds}};
  for (const KernelCounters& k : c.kernels) {
    nlohmann::json occupancy = nlohmann::json::object();
    for (const auto& o : k.occupancy.architectures)
      occupancy[o.arch] = {{"fraction", o.fraction()},     {"blocks_per_sm", o.blocks_per_sm},
                           {"limited_by", o.limited_by},   {"registers", o.resources.registers},
                           {"static_shared_bytes", o.resources.static_shared_bytes}};
    if (k.occupancy.architectures.empty()) occupancy["unavailable"] = k.occupancy.unavailable;
    j["kernels"].push_back({{"kernel", k.kernel}, {"launches", k.launches}, {"counters", values(k.counters)},
                            {"occupancy", occupancy}});
  }
  return j;
}

}  // namespace nnlab::apps
