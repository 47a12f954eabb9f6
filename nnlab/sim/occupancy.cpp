// The occupancy calculator (see occupancy.h): cuda_occupancy.h's arithmetic, restated for the
// architectures the build records, over the resource table nvcc's report filled in.
#include "nnlab/sim/occupancy.h"

#include <cxxabi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "nnlab/sim/observe.h"
#include "nnlab/sim/resource_table.h"

namespace nnlab::sim {
namespace {
int divide_round_up(int x, int y) { return (x + y - 1) / y; }
int round_up(int x, int y) { return y * divide_round_up(x, y); }

// cudaOccAlignUpShmemSizeVoltaPlus: the shared-memory carveouts each architecture offers.
size_t align_up_carveout(const Architecture& a, size_t bytes) {
  static const std::vector<size_t> turing = {32, 64}, ampere_a100_hopper = {0, 8, 16, 32, 64, 100, 132, 164, 196, 228},
                                   ampere_ga10x = {0, 8, 16, 32, 64, 100};
  const std::vector<size_t>& kib = a.major == 7 ? turing : a.major == 9 || (a.major == 8 && a.minor == 0) ? ampere_a100_hopper : ampere_ga10x;
  for (size_t k : kib)
    if (bytes <= k * 1024 && (k > 0 || bytes == 0)) return k * 1024;
  return bytes;  // larger than any carveout: the caller's limits reject it
}

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}
}  // namespace

// Device properties from the CUDA C++ Programming Guide's table of compute capabilities, as
// cudaGetDeviceProperties reports them (shared memory per SM and per block with opt-in,
// reserved per block), and cuda_occupancy.h's allocation granularities and block limits.
const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> table = {
      {"sm_75", 7, 5, 1024, 16, 64 * 1024, 64 * 1024, 0, 256},
      {"sm_80", 8, 0, 2048, 32, 164 * 1024, 163 * 1024, 1024, 128},
      {"sm_86", 8, 6, 1536, 16, 100 * 1024, 99 * 1024, 1024, 128},
      {"sm_89", 8, 9, 1536, 24, 100 * 1024, 99 * 1024, 1024, 128},
      {"sm_90", 9, 0, 2048, 32, 228 * 1024, 227 * 1024, 1024, 128},
  };
  return table;
}

const Occupancy* OccupancyReport::find(const std::string& arch) const {
  for (const auto& o : architectures)
    if (o.arch == arch) return &o;
  return nullptr;
}

Occupancy theoretical_occupancy(const Architecture& a, const KernelResources& k, int block_threads,
                                size_t dynamic_shared, size_t max_dynamic_shared) {
  Occupancy out;
  out.arch = a.name;
  out.resources = k;
  out.max_warps_per_sm = a.max_threads_per_sm / 32;
  int warps_per_block = divide_round_up(block_threads, 32);

  // Registers: allocated per warp, and per sub-partition (cudaOccMaxBlocksPerSMRegsLimit).
  int by_registers = INT_MAX;
  int per_warp = round_up(k.registers * 32, a.register_granularity);
  if (a.registers_per_block < per_warp * round_up(warps_per_block, a.sub_partitions) ||
      a.registers_per_block < per_warp * warps_per_block || k.registers > a.max_registers_per_thread)
    by_registers = 0;
  else if (per_warp > 0)
    by_registers = (a.registers_per_sm / a.sub_partitions / per_warp) * a.sub_partitions / warps_per_block;

  int by_warps = block_threads > a.max_threads_per_block ? 0 : out.max_warps_per_sm / warps_per_block;
  int by_blocks = a.max_blocks_per_sm;

  // Shared memory (cudaOccMaxBlocksPerSMSmemLimit, with the runtime's opt-in attributes).
  int by_shared = INT_MAX;
  size_t static_shared = size_t(k.static_shared_bytes) + a.reserved_shared_per_block;
  size_t allocated = size_t(round_up(int(static_shared + dynamic_shared), a.shared_granularity));
  size_t per_block_limit =
      (static_shared + max_dynamic_shared > a.shared_per_block ? a.shared_per_block_opt_in : a.shared_per_block) +
      (a.major >= 8 ? a.reserved_shared_per_block : 0);
  if (dynamic_shared > max_dynamic_shared || allocated > per_block_limit) {
    by_shared = 0;
  } else if (allocated > 0) {
    size_t preferred = align_up_carveout(a, a.shared_per_sm);  // the default carveout
    size_t per_sm = preferred >= allocated ? preferred : align_up_carveout(a, allocated);
    by_shared = int(per_sm / allocated);
  }

  int limit = std::min({by_registers, by_shared, by_warps, by_blocks});
  auto add = [&](const char* why) { out.limited_by += (out.limited_by.empty() ? "" : "+") + std::string(why); };
  if (limit == by_warps) add("warps");
  if (limit == by_registers) add("registers");
  if (limit == by_shared) add("shared memory");
  if (limit == by_blocks) add("blocks");
  // Hopper onwards: block barriers, one per kernel as cudaFuncGetAttributes assumes.
  if (a.major >= 9) {
    int by_barriers = a.max_blocks_per_sm * 2 / 1;
    limit = std::min(limit, by_barriers);
    if (by_barriers == limit) add("barriers");
  }
  out.blocks_per_sm = limit;
  out.warps_per_sm = limit * warps_per_block;
  return out;
}

std::string kernel_signature_key(const std::string& demangled) {
  std::string s = demangled;
  // The builds' namespaces, and the simulator's own (its __half and __nv_bfloat16 are CUDA's
  // global ones in the nvcc build).
  for (const char* ns : {"nnlab::cuda::", "nnlab::cuda_sim_observed::", "nnlab::cuda_sim::", "nnlab::sim::"})
    for (size_t at; (at = s.find(ns)) != std::string::npos;) s.erase(at, std::char_traits<char>::length(ns));
  return s;
}

std::string resource_table_unavailable_reason() { return detail::kResourceUnavailable; }

namespace {
// signature key -> architecture -> resources, built once from the generated rows.
const std::map<std::string, std::map<std::string, KernelResources>>& resource_table() {
  static const auto table = [] {
    std::map<std::string, std::map<std::string, KernelResources>> t;
    for (size_t i = 0; i < detail::kResourceRowCount; ++i) {
      const detail::ResourceRow& r = detail::kResourceRows[i];
      t[kernel_signature_key(demangle(r.mangled))][r.arch] = {r.registers, r.static_shared_bytes, r.barriers,
                                                              r.stack_bytes, r.spill_store_bytes, r.spill_load_bytes};
    }
    return t;
  }();
  return table;
}
}  // namespace

size_t resource_table_kernels() {
  std::set<std::string> names;  // a template's instances (float16 and bfloat16 casts) count once
  for (const auto& [signature, architectures] : resource_table()) names.insert(unqualified_name(signature));
  return names.size();
}

OccupancyReport occupancy(const std::string& signature_key, int block_threads, size_t dynamic_shared,
                          size_t opted_in_dynamic_shared) {
  OccupancyReport report;
  if (detail::kResourceUnavailable[0] != '\0') {
    report.unavailable = detail::kResourceUnavailable;
    return report;
  }
  auto it = resource_table().find(signature_key);
  if (it == resource_table().end()) {
    report.unavailable = "the nvcc build recorded no kernel " + (signature_key.empty() ? "(unknown)" : signature_key);
    return report;
  }
  for (const Architecture& a : architectures()) {
    auto r = it->second.find(a.name);
    if (r == it->second.end()) continue;
    size_t max_dynamic = opted_in_dynamic_shared
                             ? opted_in_dynamic_shared
                             : a.shared_per_block - std::min<size_t>(a.shared_per_block, size_t(r->second.static_shared_bytes));
    report.architectures.push_back(theoretical_occupancy(a, r->second, block_threads, dynamic_shared, max_dynamic));
  }
  if (report.architectures.empty()) report.unavailable = "no architecture recorded for " + signature_key;
  return report;
}

}  // namespace nnlab::sim
