// cuda-sim's timing model: what a launch the observed build counted (observe.h) would take on
// a named GPU, from the GPU's table (gpus.json: datasheet values with their sources) and one set
// of global parameters (below). A prediction, never a measurement; docs/gpu_model.md explains
// it, its sources and its blind spots, and compares it with published measurements.
//
// Per launch, in the spirit of the roofline (Williams et al. 2009) and of Hong and Kim's
// MWP-CWP model (ISCA 2009), the time is the longest of these, plus a launch overhead:
//   issue    warp instructions (observe.h) / (warp instructions a cycle x SMs x clock)
//   fp32     floating-point warp instructions / (FP32 lanes / 32 x SMs x clock)
//   lsu      L1 wavefronts of global requests + shared-memory wavefronts (or, with 16 banks,
//            half-warp passes), at the GPU's passes a cycle per SM
//   l2       the sectors that miss L1 (per block, the distinct sectors it loaded: its own
//            reuse hits) and the stores, at the L2's measured bandwidth
//   dram     the launch's footprint (distinct sectors), plus the L2 traffic beyond it that
//            misses an L2 smaller than the working set of the blocks resident at once, at
//            the datasheet bandwidth x kDramEfficiency
//   latency  Little's law: each wave of resident blocks waits for its loads once per barrier
//            interval (at most once per load), at the L2 or DRAM latency by where they hit
// Work per SM is that of the busiest SM (ceil(blocks / SMs) blocks), so tails count. A term
// whose GPU value no source gives is left out, and the prediction says so.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "nnlab/sim/observe.h"
#include "nnlab/sim/occupancy.h"

namespace nnlab::sim {

// The global parameters, the same for every kernel and GPU (docs/gpu_model.md: how each was
// chosen and from which source; none was fitted to the measurements the model is checked on).
// A copy kernel's share of the datasheet DRAM bandwidth: stream kernels reach 0.84-0.99 of it
// (gpu-benches on H100 PCIe: store 2016, load 1942, copy 1704 of 2039 GB/s; V100 PCIe load
// 869 of 900 GB/s); 0.9 is the middle of that range.
constexpr double kDramEfficiency = 0.9;
// Host-to-GPU overhead of a launch: TITAN V measured 7257.6 cycles at 1455 MHz (Accel-Sim's
// microbenchmarks), about 5 microseconds.
constexpr double kLaunchOverheadSeconds = 5e-6;

// One GPU of the table.
struct GpuSpec {
  std::string key, name, compute_capability;
  double sms = 0, clock_hz = 0, fp32_lanes_per_sm = 0, warp_instructions_per_cycle = 0;
  double dram_bytes_per_s = 0, l2_bytes = 0, l2_bytes_per_s = 0;  // 0: unknown (l2_bytes: none)
  bool global_loads_cached = false;
  int shared_banks = 32, bank_phase_lanes = 32;
  double shared_passes_per_cycle = 0, l1_wavefronts_per_cycle = 0;  // 0: unknown
  double l2_latency_s = 0, dram_latency_s = 0;                      // 0: unknown
  Architecture architecture;        // the occupancy calculator's limits
  std::string registers_from;       // the nvcc build whose registers stand in ("sm_75")
  std::map<std::string, std::string> sources;  // field -> "KEY: citation" (with a note if any)
};

// The table: gpus.json as built in, then NNLAB_GPUS's file if set (entries add or replace).
// A malformed file throws std::runtime_error naming the file, the GPU and the field.
const std::vector<GpuSpec>& gpus();
// By key ("t4"); std::invalid_argument listing the keys otherwise.
const GpuSpec& find_gpu(const std::string& key);
// Parses a table in gpus.json's format (for NNLAB_GPUS and the tests); `origin` names it in errors.
std::vector<GpuSpec> parse_gpu_table(const std::string& json_text, const std::string& origin);

struct Prediction {
  double seconds = 0;  // the longest term plus the launch overhead
  std::string bound;   // which term: "issue", "fp32", "lsu", "l2", "dram", "latency"
  double issue = 0, fp32 = 0, lsu = 0, l2 = 0, dram = 0, latency = 0, launch = 0;  // seconds
  double dram_bytes = 0, l2_bytes = 0;  // the traffic the terms priced
  bool occupancy_known = false;
  Occupancy occupancy;                // on this GPU
  std::vector<std::string> left_out;  // terms left out, each with why
};

// The launch's prediction on `gpu`. A sampled launch (LaunchMetrics::simulated_blocks below
// the grid's blocks) is scaled to the whole grid.
Prediction predict(const LaunchMetrics& launch, const GpuSpec& gpu);

// The occupancy of a launch on `gpu`: the calculator with the GPU's limits and the registers
// and static shared memory nvcc reported for gpu.registers_from; known false (why in
// *unavailable) without them.
bool occupancy_on(const LaunchMetrics& launch, const GpuSpec& gpu, Occupancy* out, std::string* unavailable);

// "2.41 ms" / "37.2 us" / "1.20 s".
std::string format_seconds(double seconds);

}  // namespace nnlab::sim
