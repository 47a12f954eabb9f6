// The GPU table and the timing model (gpu_model.h).
#include "nnlab/sim/gpu_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace nnlab::sim {
namespace detail {
extern const char* const kGpuTableJson;  // gpus.json, embedded by the build
}

namespace {
using nlohmann::json;

// One GPU entry's fields, read with the file, the GPU and the field named in every error.
class Entry {
 public:
  Entry(const json& entry, const json& sources, std::string origin, std::string key)
      : entry_(entry), sources_(sources), origin_(std::move(origin)), key_(std::move(key)) {}

  bool has(const char* field) const { return entry_.contains(field); }
  double number(const char* field, GpuSpec& gpu) const {
    const json& v = value(field, gpu);
    if (!v.is_number()) fail(field, "a number");
    return v.get<double>();
  }
  double number_or(const char* field, double otherwise, GpuSpec& gpu) const {
    return has(field) ? number(field, gpu) : otherwise;
  }
  std::string text(const char* field, GpuSpec& gpu) const {
    const json& v = value(field, gpu);
    if (!v.is_string()) fail(field, "a string");
    return v.get<std::string>();
  }
  bool flag(const char* field, GpuSpec& gpu) const {
    const json& v = value(field, gpu);
    if (!v.is_boolean()) fail(field, "true or false");
    return v.get<bool>();
  }
  [[noreturn]] void fail(const std::string& field, const std::string& expected) const {
    throw std::runtime_error(origin_ + ": GPU '" + key_ + "', field '" + field + "': expected " + expected);
  }

 private:
  // {"value": ..., "source": KEY[, "note": ...]}: the value, its citation kept in gpu.sources.
  const json& value(const char* field, GpuSpec& gpu) const {
    if (!entry_.contains(field)) fail(field, "the field (it is required)");
    const json& f = entry_.at(field);
    if (!f.is_object() || !f.contains("value") || !f.contains("source") || !f.at("source").is_string())
      fail(field, "{\"value\": ..., \"source\": KEY}");
    std::string source = f.at("source").get<std::string>();
    if (source != "calc" && !sources_.contains(source)) fail(field, "a source listed in \"sources\", not '" + source + "'");
    std::string citation = source == "calc" ? "calc" : source + ": " + sources_.at(source).get<std::string>();
    if (f.contains("note") && f.at("note").is_string()) citation += " (" + f.at("note").get<std::string>() + ")";
    gpu.sources[field] = citation;
    return f.at("value");
  }
  const json& entry_;
  const json& sources_;
  std::string origin_, key_;
};

GpuSpec read_gpu(const std::string& key, const json& entry, const json& sources, const std::string& origin) {
  if (!entry.is_object()) throw std::runtime_error(origin + ": GPU '" + key + "': expected an object of fields");
  Entry e(entry, sources, origin, key);
  GpuSpec g;
  g.key = key;
  g.name = entry.contains("name") && entry.at("name").is_string() ? entry.at("name").get<std::string>() : key;
  g.compute_capability = e.text("compute_capability", g);
  g.sms = e.number("sms", g);
  g.clock_hz = e.number("clock_mhz", g) * 1e6;
  g.fp32_lanes_per_sm = e.number("fp32_lanes_per_sm", g);
  g.warp_instructions_per_cycle = e.number("warp_instructions_per_cycle", g);
  g.dram_bytes_per_s = e.number("dram_gb_per_s", g) * 1e9;
  g.l2_bytes = e.number("l2_bytes", g);
  g.l2_bytes_per_s = e.number_or("l2_gb_per_s", 0, g) * 1e9;
  g.global_loads_cached = e.flag("global_loads_cached", g);
  g.shared_banks = int(e.number("shared_banks", g));
  g.bank_phase_lanes = int(e.number("bank_phase_lanes", g));
  if (g.shared_banks != 16 && g.shared_banks != 32) e.fail("shared_banks", "16 or 32");
  g.shared_passes_per_cycle = e.number("shared_passes_per_cycle", g);
  g.l1_wavefronts_per_cycle = e.number_or("l1_wavefronts_per_cycle", 0, g);
  g.l2_latency_s = e.number_or("l2_latency_ns", 0, g) * 1e-9;
  g.dram_latency_s = e.number_or("dram_latency_ns", 0, g) * 1e-9;
  g.registers_from = e.text("registers_from", g);
  for (const char* positive : {"sms", "clock_mhz", "fp32_lanes_per_sm", "warp_instructions_per_cycle", "dram_gb_per_s",
                               "shared_passes_per_cycle"})
    if (e.number(positive, g) <= 0) e.fail(positive, "a positive number");

  Architecture& a = g.architecture;
  a.name = nullptr;  // set below from the stored key
  std::string cc = g.compute_capability;
  size_t dot = cc.find('.');
  if (dot == std::string::npos) e.fail("compute_capability", "\"major.minor\"");
  a.major = std::atoi(cc.c_str());
  a.minor = std::atoi(cc.c_str() + dot + 1);
  a.max_threads_per_sm = int(e.number("max_threads_per_sm", g));
  a.max_blocks_per_sm = int(e.number("max_blocks_per_sm", g));
  a.max_threads_per_block = int(e.number("max_threads_per_block", g));
  a.registers_per_sm = a.registers_per_block = int(e.number("registers_per_sm", g));
  a.register_granularity = int(e.number("register_allocation_unit", g));
  a.sub_partitions = int(e.number("register_sub_partitions", g));
  a.shared_per_sm = size_t(e.number("shared_bytes_per_sm", g));
  a.shared_per_block = size_t(e.number("shared_bytes_per_block", g));
  a.shared_per_block_opt_in = size_t(e.number_or("shared_bytes_per_block_opt_in", double(a.shared_per_block), g));
  a.shared_granularity = int(e.number("shared_allocation_unit", g));
  a.reserved_shared_per_block = size_t(e.number("reserved_shared_per_block", g));
  return g;
}

std::vector<GpuSpec> load_table() {
  std::vector<GpuSpec> table = parse_gpu_table(detail::kGpuTableJson, "nnlab/sim/gpus.json");
  if (const char* extra = std::getenv("NNLAB_GPUS"); extra && *extra) {
    std::ifstream in(extra);
    if (!in) throw std::runtime_error(std::string("NNLAB_GPUS=") + extra + ": cannot read the file");
    std::stringstream text;
    text << in.rdbuf();
    for (GpuSpec& g : parse_gpu_table(text.str(), extra)) {
      auto same = std::find_if(table.begin(), table.end(), [&](const GpuSpec& t) { return t.key == g.key; });
      if (same != table.end())
        *same = std::move(g);
      else
        table.push_back(std::move(g));
    }
  }
  return table;
}

// Architecture::name is a C string: the names live as long as the table.
const char* stored_name(const std::string& s) {
  static std::vector<std::unique_ptr<std::string>> names;
  names.push_back(std::make_unique<std::string>(s));
  return names.back()->c_str();
}
}  // namespace

std::vector<GpuSpec> parse_gpu_table(const std::string& text, const std::string& origin) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(origin + ": not valid JSON: " + e.what());
  }
  if (!root.is_object() || !root.contains("gpus") || !root.at("gpus").is_object())
    throw std::runtime_error(origin + ": expected an object with \"gpus\" (and \"sources\")");
  json sources = root.contains("sources") ? root.at("sources") : json::object();
  std::vector<GpuSpec> out;
  for (const auto& [key, entry] : root.at("gpus").items()) {
    out.push_back(read_gpu(key, entry, sources, origin));
    out.back().architecture.name = stored_name("cc " + out.back().compute_capability);
  }
  return out;
}

const std::vector<GpuSpec>& gpus() {
  static const std::vector<GpuSpec> table = load_table();
  return table;
}

const GpuSpec& find_gpu(const std::string& key) {
  std::string known;
  for (const GpuSpec& g : gpus()) {
    if (g.key == key) return g;
    known += (known.empty() ? "" : ", ") + g.key;
  }
  throw std::invalid_argument("unknown GPU '" + key + "'; known: " + known +
                              " (add one to nnlab/sim/gpus.json or a file named by NNLAB_GPUS)");
}

bool occupancy_on(const LaunchMetrics& m, const GpuSpec& gpu, Occupancy* out, std::string* unavailable) {
  const Occupancy* recorded = m.occupancy.find(gpu.registers_from);
  if (!recorded) {
    *unavailable = m.occupancy.architectures.empty() ? m.occupancy.unavailable
                                                     : "nvcc recorded no " + gpu.registers_from + " build of the kernel";
    return false;
  }
  uint64_t threads = uint64_t(m.block.x) * m.block.y * m.block.z;
  size_t static_shared = size_t(recorded->resources.static_shared_bytes);
  size_t max_dynamic = gpu.architecture.shared_per_block - std::min(gpu.architecture.shared_per_block, static_shared);
  max_dynamic = std::max(max_dynamic, m.dynamic_shared_bytes);  // an opt-in the launch must have made
  *out = theoretical_occupancy(gpu.architecture, recorded->resources, int(threads), m.dynamic_shared_bytes, max_dynamic);
  return true;
}

Prediction predict(const LaunchMetrics& m, const GpuSpec& gpu) {
  Prediction p;
  const Counters& c = m.total;
  double grid = double(m.grid.x) * m.grid.y * m.grid.z;
  double simulated = m.simulated_blocks ? double(m.simulated_blocks) : grid;
  double scale = grid / simulated;
  double threads = double(m.block.x) * m.block.y * m.block.z, warps_per_block = std::ceil(threads / 32);
  double clock = gpu.clock_hz;

  // A block larger than the GPU runs cannot launch at all, whatever else is known.
  if (threads > gpu.architecture.max_threads_per_block) {
    p.left_out.push_back("everything: the launch cannot run on " + gpu.key + " (" + std::to_string(int(threads)) +
                         " threads a block, at most " + std::to_string(gpu.architecture.max_threads_per_block) + ")");
    p.seconds = std::numeric_limits<double>::infinity();
    p.bound = "cannot run";
    return p;
  }
  // Resident blocks per SM: the occupancy calculator's, or as many as threads and blocks allow.
  std::string why;
  p.occupancy_known = occupancy_on(m, gpu, &p.occupancy, &why);
  double blocks_per_sm;
  if (p.occupancy_known) {
    blocks_per_sm = p.occupancy.blocks_per_sm;
    if (blocks_per_sm == 0) {
      p.left_out.push_back("everything: the launch cannot run on " + gpu.key + " (" + p.occupancy.limited_by + ")");
      p.seconds = std::numeric_limits<double>::infinity();
      p.bound = "cannot run";
      return p;
    }
  } else {
    blocks_per_sm = std::max(1.0, std::min(double(gpu.architecture.max_blocks_per_sm),
                                           std::floor(gpu.architecture.max_threads_per_sm / (warps_per_block * 32))));
    p.left_out.push_back("registers and shared memory from occupancy (" + why + "): blocks per SM from threads alone");
  }
  // Work per SM: the busiest SM's share of the blocks; waves of resident blocks.
  double blocks_on_busiest = std::ceil(grid / gpu.sms), per_block = blocks_on_busiest / simulated;
  double waves = std::ceil(grid / (gpu.sms * blocks_per_sm));

  // issue and fp32
  p.issue = double(warp_instructions(c)) * per_block / (gpu.warp_instructions_per_cycle * clock);
  p.fp32 = double(c.fp32_instructions) * per_block / (gpu.fp32_lanes_per_sm / 32 * clock);
  if (c.basic_blocks > 0 && !m.instructions_unavailable.empty())
    p.left_out.push_back("ALU instructions (" + m.instructions_unavailable + ")");

  // lsu: global requests in L1TEX, shared memory by the GPU's banks
  auto both = [&](Space s, auto field) {
    return double(c.at(s, AccessOp::Load).*field + c.at(s, AccessOp::Store).*field + c.at(s, AccessOp::Atomic).*field);
  };
  double shared = gpu.shared_banks == 16 ? both(Space::Shared, &MemoryCounters::half_warp_wavefronts)
                                         : both(Space::Shared, &MemoryCounters::transactions);
  double lsu_cycles = shared / gpu.shared_passes_per_cycle;
  if (gpu.l1_wavefronts_per_cycle > 0)
    lsu_cycles += both(Space::Global, &MemoryCounters::l1_wavefronts) / gpu.l1_wavefronts_per_cycle;
  p.lsu = lsu_cycles * per_block / clock;

  // l2: what misses L1, and the stores (L1 writes through)
  const MemoryCounters &loads = c.at(Space::Global, AccessOp::Load), &stores = c.at(Space::Global, AccessOp::Store),
                       &atomics = c.at(Space::Global, AccessOp::Atomic);
  double l2_sectors = (gpu.global_loads_cached ? double(c.block_sectors) : double(loads.transactions)) +
                      double(stores.transactions + atomics.transactions);
  l2_sectors *= scale;
  p.l2_bytes = 32 * l2_sectors;
  if (gpu.l2_bytes_per_s > 0)
    p.l2 = p.l2_bytes / gpu.l2_bytes_per_s;
  else if (gpu.l2_bytes > 0)
    p.left_out.push_back("l2 (no measured L2 bandwidth of " + gpu.key + " in gpus.json)");

  // dram: the footprint, plus the L2 traffic beyond it that misses an L2 smaller than the
  // working set of the blocks resident at once
  double footprint = double(m.footprint_load_sectors + m.footprint_store_sectors);
  if (scale > 1) footprint = std::min(footprint * scale, double(m.touched_allocation_sectors));
  double dram_sectors = l2_sectors;
  if (gpu.l2_bytes > 0) {
    double resident = std::min(grid, gpu.sms * blocks_per_sm);
    double working_set = 32 * (double(c.block_sectors) + double(stores.transactions)) / simulated * resident;
    double miss = working_set > 0 ? std::clamp(1 - gpu.l2_bytes / working_set, 0.0, 1.0) : 0.0;
    dram_sectors = std::min(l2_sectors, footprint + std::max(0.0, l2_sectors - footprint) * miss);
  }
  p.dram_bytes = 32 * dram_sectors;
  p.dram = p.dram_bytes / (gpu.dram_bytes_per_s * kDramEfficiency);

  // latency: per warp, one wait for its loads per barrier interval that has any
  double warps = simulated * warps_per_block;
  double load_requests = double(loads.requests + atomics.requests) / warps;
  double rounds = std::min(load_requests, double(c.barriers) / warps + 1);
  if (load_requests > 0) {
    double latency;
    if (gpu.l2_bytes == 0) {
      latency = gpu.dram_latency_s;
    } else {
      double from_dram = l2_sectors > 0 ? std::min(1.0, dram_sectors / l2_sectors) : 0;
      latency = gpu.l2_latency_s > 0 && gpu.dram_latency_s > 0
                    ? gpu.l2_latency_s + from_dram * (gpu.dram_latency_s - gpu.l2_latency_s)
                    : 0;
    }
    if (latency > 0)
      p.latency = waves * rounds * latency;
    else
      p.left_out.push_back("latency (no measured L2 and DRAM latency of " + gpu.key + " in gpus.json)");
  }

  p.launch = kLaunchOverheadSeconds;
  std::pair<double, const char*> terms[] = {{p.issue, "issue"}, {p.fp32, "fp32"}, {p.lsu, "lsu"},
                                            {p.l2, "l2"},       {p.dram, "dram"}, {p.latency, "latency"}};
  auto longest = std::max_element(std::begin(terms), std::end(terms),
                                   [](const auto& a, const auto& b) { return a.first < b.first; });
  p.bound = longest->second;
  p.seconds = longest->first + p.launch;
  return p;
}

std::string format_seconds(double s) {
  char text[32];
  if (!std::isfinite(s)) return "-";
  if (s >= 1)
    std::snprintf(text, sizeof text, "%.2f s", s);
  else if (s >= 1e-3)
    std::snprintf(text, sizeof text, "%.3g ms", s * 1e3);
  else
    std::snprintf(text, sizeof text, "%.3g us", s * 1e6);
  return text;
}

}  // namespace nnlab::sim
