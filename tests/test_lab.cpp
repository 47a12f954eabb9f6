// The kernel lab (lab/) and cuda-sim's timing model (nnlab/sim/gpu_model.h): every step of
// every series against its CPU loop on cuda-sim, the observed build under memcheck, racecheck
// and initcheck, block sampling against the full run, the GPU table and the model's terms.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "lab/series.h"
#include "nnlab/backends/registry.h"
#include "nnlab/sim/gpu_model.h"
#include "nnlab/sim/instructions.h"
#include "nnlab/sim/observe.h"
#include "tests/sim_observable.h"
#include "nnlab/sim/occupancy.h"
#include "nnlab/sim/sim.h"

using namespace nnlab;

namespace {
// Sizes small enough for every step on two cores; not powers of two where the series allows.
int small_size(const lab::Series& s) {
  if (std::string(s.name) == "reduction") return 100003;
  if (std::string(s.name) == "sgemm") return 256;
  return 96;
}

// The launches of one run of a step on the observed build, at most `sample` blocks each.
std::vector<sim::LaunchMetrics> observe_step(lab::Workload& w, int step, uint64_t sample, sim::Checks checks = {}) {
  w.reset();
  sim::Recording recording(checks);
  sim::set_block_sample(sample);
  w.launch(lab::observed_kernels(), step);
  get_observed_sim_backend().synchronize();
  sim::set_block_sample(0);
  return recording.launches();
}

}  // namespace

TEST_CASE("lab: every step of every series matches its CPU loop on cuda-sim") {
  Backend& sim = get_backend("cuda-sim");
  for (const lab::Series& s : lab::all_series()) {
    lab::Workload w(s, small_size(s), sim);
    for (int step = 1; step <= int(s.steps.size()); ++step) {
      CAPTURE(std::string(s.name));
      CAPTURE(step);
      w.run(lab::simulator_kernels(), step);
      lab::Check c = w.check();
      INFO(c.what);
      CHECK(c.ok);
    }
  }
}

TEST_CASE("lab: the observed build is clean under memcheck, racecheck and initcheck, and right") {
  if (!nnlab::testing::sim_observable()) return;
  Backend& observed = get_observed_sim_backend();
  for (const lab::Series& s : lab::all_series()) {
    // Smaller still: the checks record every access.
    int size = std::string(s.name) == "reduction" ? 5000 : std::string(s.name) == "sgemm" ? 128 : 64;
    lab::Workload w(s, size, observed);
    for (int step = 1; step <= int(s.steps.size()); ++step) {
      CAPTURE(std::string(s.name));
      CAPTURE(step);
      CHECK_NOTHROW(observe_step(w, step, 0, sim::Checks::all()));
      lab::Check c = w.check();
      INFO(c.what);
      CHECK(c.ok);
    }
  }
}

TEST_CASE("lab: a wrong result fails the check") {
  // The transpose check against a copy: step 1 copies, so comparing it as a transpose fails.
  Backend& sim = get_backend("cuda-sim");
  lab::Workload w(lab::find_series("transpose"), 64, sim);
  w.reset();
  w.launch(lab::simulator_kernels(), 1);
  sim.synchronize();
  CHECK(w.check().ok);
  w.reset();  // outputs back to NaN: nothing written
  CHECK_FALSE(w.check().ok);
}

TEST_CASE("lab: a sample of blocks gives the full run's counters, scaled") {
  if (!nnlab::testing::sim_observable()) return;
  // Sizes where the full observed run is feasible; every block of these kernels does the same
  // work, so the scaled counters must equal the full run's exactly.
  struct Case {
    const char* series;
    int size, step;
    uint64_t sample;
  };
  for (Case k : {Case{"transpose", 256, 2, 8}, Case{"transpose", 256, 3, 8}, Case{"sgemm", 256, 4, 4},
                 Case{"reduction", 1 << 16, 3, 16}}) {
    CAPTURE(std::string(k.series));
    CAPTURE(k.step);
    lab::Workload w(lab::find_series(k.series), k.size, get_observed_sim_backend());
    std::vector<sim::LaunchMetrics> full = observe_step(w, k.step, 0), part = observe_step(w, k.step, k.sample);
    REQUIRE(full.size() == part.size());
    const sim::LaunchMetrics &f = full[0], &p = part[0];  // the first launch is the large one
    uint64_t grid = uint64_t(f.grid.x) * f.grid.y * f.grid.z;
    REQUIRE(p.simulated_blocks == k.sample);
    REQUIRE(f.simulated_blocks == grid);
    uint64_t scale = grid / k.sample;
    for (auto space : {sim::Space::Global, sim::Space::Shared})
      for (auto op : {sim::AccessOp::Load, sim::AccessOp::Store}) {
        CHECK(p.total.at(space, op).requests * scale == f.total.at(space, op).requests);
        CHECK(p.total.at(space, op).transactions * scale == f.total.at(space, op).transactions);
        CHECK(p.total.at(space, op).l1_wavefronts * scale == f.total.at(space, op).l1_wavefronts);
      }
    CHECK(p.total.alu_instructions * scale == f.total.alu_instructions);
    CHECK(p.total.barriers * scale == f.total.barriers);
    CHECK(p.total.block_sectors * scale == f.total.block_sectors);
    CHECK(f.total.alu_instructions > 0);
    // And the predictions agree (the footprint is the only estimate a sample makes).
    for (const char* gpu : {"t4", "a100", "8800-gtx"}) {
      double whole = sim::predict(f, sim::find_gpu(gpu)).seconds, sampled = sim::predict(p, sim::find_gpu(gpu)).seconds;
      CAPTURE(std::string(gpu));
      // The G80 runs no block of 1024 threads (transpose), nor, where nvcc's register counts are
      // known, sgemm step 4's 512 threads x 48 registers.
      bool registers_known = sim::resource_table_unavailable_reason().empty();
      bool runs = std::string(gpu) != "8800-gtx" || std::string(k.series) == "reduction" ||
                  (std::string(k.series) == "sgemm" && !registers_known);
      CHECK(std::isfinite(whole) == runs);
      if (!std::isfinite(whole)) {
        CHECK(!std::isfinite(sampled));
        continue;
      }
      CHECK(sampled == doctest::Approx(whole).epsilon(0.1));
    }
  }
}

TEST_CASE("gpu table: the built-in GPUs, each value with its source") {
  for (const char* key : {"8800-gtx", "v100", "t4", "a100", "rtx-a6000", "l4", "h100"}) {
    CAPTURE(std::string(key));
    const sim::GpuSpec& g = sim::find_gpu(key);
    CHECK(g.sms > 0);
    CHECK(g.clock_hz > 0);
    CHECK(g.dram_bytes_per_s > 0);
    for (const char* field : {"sms", "clock_mhz", "fp32_lanes_per_sm", "dram_gb_per_s", "l2_bytes", "shared_banks",
                              "max_threads_per_sm", "registers_per_sm", "shared_bytes_per_sm"}) {
      CAPTURE(field);
      REQUIRE(g.sources.count(field));
      CHECK(!g.sources.at(field).empty());
    }
  }
  // Peak FP32 from the table matches the datasheets': A100 19.5, H100 about 67 TFLOP/s.
  auto peak = [](const char* k) {
    const sim::GpuSpec& g = sim::find_gpu(k);
    return g.sms * g.fp32_lanes_per_sm * 2 * g.clock_hz / 1e12;
  };
  CHECK(peak("a100") == doctest::Approx(19.5).epsilon(0.01));
  CHECK(peak("h100") == doctest::Approx(66.9).epsilon(0.01));
  CHECK(peak("rtx-a6000") == doctest::Approx(38.7).epsilon(0.01));
  CHECK_THROWS_WITH_AS(sim::find_gpu("tpu"), doctest::Contains("unknown GPU 'tpu'; known: 8800-gtx"),
                       std::invalid_argument);
}

TEST_CASE("gpu table: a malformed entry is an error naming the file, the GPU and the field") {
  std::string good = R"({"sources": {"S": "somewhere"}, "gpus": {"x": {"compute_capability": {"value": "7.5", "source": "S"}}}})";
  CHECK_THROWS_WITH(sim::parse_gpu_table(good, "mine.json"),
                    doctest::Contains("mine.json: GPU 'x', field 'sms': expected the field (it is required)"));
  std::string wrong_type = R"({"sources": {"S": "s"}, "gpus": {"x": {"compute_capability": {"value": 7.5, "source": "S"}}}})";
  CHECK_THROWS_WITH(sim::parse_gpu_table(wrong_type, "mine.json"),
                    doctest::Contains("GPU 'x', field 'compute_capability': expected a string"));
  std::string unsourced = R"({"sources": {}, "gpus": {"x": {"compute_capability": {"value": "7.5", "source": "ME"}}}})";
  CHECK_THROWS_WITH(sim::parse_gpu_table(unsourced, "mine.json"),
                    doctest::Contains("field 'compute_capability': expected a source listed in \"sources\", not 'ME'"));
  std::string bare = R"({"sources": {}, "gpus": {"x": {"compute_capability": "7.5"}}})";
  CHECK_THROWS_WITH(sim::parse_gpu_table(bare, "mine.json"), doctest::Contains("{\"value\": ..., \"source\": KEY}"));
  CHECK_THROWS_WITH(sim::parse_gpu_table("{", "mine.json"), doctest::Contains("mine.json: not valid JSON"));
}

namespace {
// A launch by hand: `blocks` blocks of 256 threads, each warp loading and storing `sectors`
// sectors per request once, all distinct (a copy).
sim::LaunchMetrics streaming_launch(uint64_t blocks, uint64_t sectors_per_request) {
  sim::LaunchMetrics m;
  m.grid = sim::dim3(unsigned(blocks)), m.block = sim::dim3(256);
  m.simulated_blocks = blocks;
  uint64_t warps = blocks * 8;
  for (auto op : {sim::AccessOp::Load, sim::AccessOp::Store}) {
    sim::MemoryCounters& c = m.total.at(sim::Space::Global, op);
    c.requests = warps, c.lanes = 32 * warps, c.bytes = 128 * warps;
    c.transactions = sectors_per_request * warps, c.ideal = 4 * warps;
    c.l1_wavefronts = warps;
  }
  m.total.block_sectors = m.total.at(sim::Space::Global, sim::AccessOp::Load).transactions;
  m.footprint_load_sectors = m.footprint_store_sectors = 4 * warps;
  m.touched_allocation_sectors = 8 * warps;
  return m;
}
}  // namespace

TEST_CASE("model: a large copy is DRAM-bound at the datasheet bandwidth times kDramEfficiency") {
  sim::LaunchMetrics m = streaming_launch(1 << 16, 4);  // 2 x 64 MiB
  for (const char* key : {"t4", "a100", "h100"}) {
    const sim::GpuSpec& g = sim::find_gpu(key);
    sim::Prediction p = sim::predict(m, g);
    CAPTURE(std::string(key));
    CHECK(p.bound == "dram");
    double bytes = 2.0 * 128 * 8 * (1 << 16);
    CHECK(p.dram_bytes == doctest::Approx(bytes));
    CHECK(p.seconds == doctest::Approx(bytes / (g.dram_bytes_per_s * sim::kDramEfficiency) + sim::kLaunchOverheadSeconds));
  }
}

TEST_CASE("model: the terms follow their counters") {
  const sim::GpuSpec& t4 = sim::find_gpu("t4");
  sim::LaunchMetrics base = streaming_launch(1 << 12, 4);
  double before = sim::predict(base, t4).dram;
  // Uncoalesced stores (32 sectors a request, each its own) cost L2 and DRAM traffic.
  sim::LaunchMetrics strided = streaming_launch(1 << 12, 4);
  strided.total.at(sim::Space::Global, sim::AccessOp::Store).transactions *= 8;
  strided.footprint_store_sectors *= 8;
  strided.touched_allocation_sectors *= 8;
  CHECK(sim::predict(strided, t4).dram > 3 * before);
  // 32-way bank conflicts: 32 times the shared-memory passes.
  sim::LaunchMetrics shared = base, conflicted = base;
  shared.total.at(sim::Space::Shared, sim::AccessOp::Load).requests = 1 << 20;
  shared.total.at(sim::Space::Shared, sim::AccessOp::Load).transactions = 1 << 20;
  conflicted.total.at(sim::Space::Shared, sim::AccessOp::Load).requests = 1 << 20;
  conflicted.total.at(sim::Space::Shared, sim::AccessOp::Load).transactions = 32 << 20;
  CHECK(sim::predict(conflicted, t4).lsu == doctest::Approx(32 * sim::predict(shared, t4).lsu - 31 * sim::predict(base, t4).lsu));
  // Instructions: twice the warp instructions, twice the issue time.
  sim::LaunchMetrics more = base;
  more.total.alu_instructions = 1 << 24;
  double issue = sim::predict(more, t4).issue;
  more.total.alu_instructions = 2 << 24;
  CHECK(sim::predict(more, t4).issue == doctest::Approx(2 * issue).epsilon(0.01));
  // The G80 prices shared memory by half-warp passes over 16 banks; the T4 by warp passes.
  sim::LaunchMetrics half = shared;
  half.total.at(sim::Space::Shared, sim::AccessOp::Load).half_warp_wavefronts = 4 << 20;
  const sim::GpuSpec& g80 = sim::find_gpu("8800-gtx");
  CHECK(sim::predict(shared, g80).lsu == 0);
  CHECK(sim::predict(half, g80).lsu > 0);
  CHECK(sim::predict(half, t4).lsu == sim::predict(shared, t4).lsu);
}

TEST_CASE("instructions: the x86 of the observed build, classified as a GPU executes it") {
  using sim::detail::classify;
  using sim::detail::InstructionClass;
  CHECK(classify("addss", "%xmm1,%xmm0") == InstructionClass::FloatAdd);
  CHECK(classify("vmulss", "%xmm1,%xmm0,%xmm0") == InstructionClass::FloatMultiply);
  CHECK(classify("movss", "(%rax),%xmm0") == InstructionClass::NotCounted);
  CHECK(classify("lea", "0x4(%rax),%rdx") == InstructionClass::NotCounted);
  CHECK(classify("xor", "%eax,%eax") == InstructionClass::NotCounted);
  CHECK(classify("xor", "%eax,%edx") == InstructionClass::Integer);
  CHECK(classify("idivl", "%ecx") == InstructionClass::Division);
  CHECK(classify("cmp", "%eax,%edx") == InstructionClass::Integer);
  CHECK(classify("call", "4011a0 <__sanitizer_cov_trace_pc>") == InstructionClass::BlockEnd);
  CHECK(classify("call", "4011a0 <_ZN5nnlab3sim7barrier>") == InstructionClass::NotCounted);
  CHECK(classify("jmp", "4011a0") == InstructionClass::Branch);
}

TEST_CASE("instructions: the modulo of reduction step 1 costs more than step 3's comparison") {
  if (!nnlab::testing::sim_observable()) return;
  lab::Workload w(lab::find_series("reduction"), 1 << 12, get_observed_sim_backend());
  auto instructions = [&](int step) { return observe_step(w, step, 0)[0].total.alu_instructions; };
  uint64_t divergent = instructions(1), sequential = instructions(3);
  INFO(divergent << " vs " << sequential);
  CHECK(divergent > 2 * sequential);
}
