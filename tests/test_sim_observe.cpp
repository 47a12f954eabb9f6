// The simulator's observer (nnlab/sim/observe.h): counters that can be worked out by hand,
// the same under every schedule and thread count; memcheck, racecheck and initcheck on kernels
// with a planted bug and on their fixes; the occupancy calculator.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "nnlab/backends/cuda/api.h"
#include "nnlab/core/philox.h"
#include "nnlab/sim/observe.h"
#include "tests/sim_observable.h"
#include "nnlab/sim/runtime.h"
#include "nnlab/sim/sim.h"

#ifdef NNLAB_HAVE_CUDA_OCCUPANCY
#include <cuda_occupancy.h>
#endif

namespace nnlab::cuda_sim_observed {
#include "tests/observe_kernels.h"
#include "tests/sim_kernels.h"
}  // namespace nnlab::cuda_sim_observed

using namespace nnlab;
using namespace nnlab::sim::runtime;
namespace ok = nnlab::cuda_sim_observed;
using sim::AccessOp;
using sim::Space;

namespace {

struct Buffer {
  explicit Buffer(size_t floats, bool initialise = true) : n(floats) {
    cudaMalloc(&ptr, n * sizeof(float));
    if (initialise) {
      std::vector<float> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = float(philox::uniform(3, i, -1, 1));
      cudaMemcpy(ptr, v.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    }
  }
  ~Buffer() { cudaFree(ptr); }
  float* ptr = nullptr;
  size_t n;
};

// The one launch f makes, observed with `checks`.
sim::LaunchMetrics observe(const std::function<void()>& f, sim::Checks checks = {}) {
  sim::Recording recording(checks);
  f();
  REQUIRE(recording.launches().size() == 1);
  return recording.launches().front();
}

const sim::MemoryCounters& at(const sim::LaunchMetrics& m, Space s, AccessOp op) { return m.total.at(s, op); }

void expect(const sim::MemoryCounters& c, uint64_t requests, uint64_t lanes, uint64_t bytes, uint64_t transactions,
            uint64_t ideal) {
  CHECK(c.requests == requests);
  CHECK(c.lanes == lanes);
  CHECK(c.bytes == bytes);
  CHECK(c.transactions == transactions);
  CHECK(c.ideal == ideal);
}

// The line of `text` in a source file of the project (the first after a line holding `after`):
// reports name it.
int line_of(const std::string& file, const std::string& text, const std::string& after = "") {
  std::ifstream in(std::string(NNLAB_SOURCE_DIR) + "/" + file);
  std::string line;
  bool past = after.empty();
  for (int n = 1; std::getline(in, line); ++n) {
    if (past && line.find(text) != std::string::npos) return n;
    past = past || line.find(after) != std::string::npos;
  }
  FAIL("no line holds '" << text << "' in " << file);
  return 0;
}
std::string where(const std::string& text) {
  return "tests/observe_kernels.cu:" + std::to_string(line_of("tests/observe_kernels.cu", text));
}

void expect_finding(const std::function<void()>& f, sim::Checks checks, const std::vector<std::string>& fragments) {
  sim::Recording recording(checks);
  try {
    f();
    FAIL("no finding");
  } catch (const sim::SimError& e) {
    for (const auto& fragment : fragments) CHECK_MESSAGE(std::string(e.what()).find(fragment) != std::string::npos,
                                                        "'" << fragment << "' not in: " << std::string(e.what()));
  }
}
}  // namespace

TEST_CASE("observe: global sectors per request, by hand") {
  if (!nnlab::testing::sim_observable()) return;
  Buffer in(32 * 32 + 4), out(32 * 4);
  SUBCASE("a coalesced float copy: 4 sectors per request") {
    auto m = observe([&] { ok::strided_copy(in.ptr, out.ptr, 1, 0); });
    expect(at(m, Space::Global, AccessOp::Load), 1, 32, 128, 4, 4);
    expect(at(m, Space::Global, AccessOp::Store), 1, 32, 128, 4, 4);
  }
  SUBCASE("a 32-float stride: 32 sectors per request, 4 ideal") {
    auto m = observe([&] { ok::strided_copy(in.ptr, out.ptr, 32, 0); });
    expect(at(m, Space::Global, AccessOp::Load), 1, 32, 128, 32, 4);
    expect(at(m, Space::Global, AccessOp::Store), 1, 32, 128, 4, 4);
  }
  SUBCASE("a misaligned start: 128 bytes over 5 sectors") {
    auto m = observe([&] { ok::strided_copy(in.ptr, out.ptr, 1, 1); });
    expect(at(m, Space::Global, AccessOp::Load), 1, 32, 128, 5, 4);
  }
  SUBCASE("float4 loads: one request of 512 bytes, 16 sectors") {
    auto m = observe([&] { ok::float4_copy(in.ptr, out.ptr); });
    expect(at(m, Space::Global, AccessOp::Load), 1, 32, 512, 16, 16);
    expect(at(m, Space::Global, AccessOp::Store), 1, 32, 512, 16, 16);
  }
  SUBCASE("half the lanes of a warp active") {
    auto m = observe([&] { ok::half_warp_copy(in.ptr, out.ptr); });
    expect(at(m, Space::Global, AccessOp::Load), 1, 16, 64, 2, 2);
    CHECK(sim::lanes_per_request(at(m, Space::Global, AccessOp::Load)) == 16.0);
  }
}

TEST_CASE("observe: shared-memory wavefronts and bank conflicts, by hand") {
  if (!nnlab::testing::sim_observable()) return;
  Buffer in(32 * 32), out(32 * 32);
  SUBCASE("a 32x32 tile read by column: every lane in one bank, 32 wavefronts a request") {
    auto m = observe([&] { ok::transpose_tile(in.ptr, out.ptr, false); });
    expect(at(m, Space::Shared, AccessOp::Store), 32, 1024, 4096, 32, 32);  // by rows
    expect(at(m, Space::Shared, AccessOp::Load), 32, 1024, 4096, 1024, 32);
    CHECK(sim::bank_conflicts(at(m, Space::Shared, AccessOp::Load)) == 31 * 32);
    CHECK(m.total.block_barriers == 1);
    CHECK(m.total.barriers == 32);
    CHECK(m.total.barrier_lanes == 1024);
    // ... on the line that reads the column.
    int line = line_of("tests/observe_kernels.cu", "out[y * 32 + x] = tile[x][y];");
    bool found = false;
    for (const auto& [where, c] : m.by_line())
      if (where.file == "tests/observe_kernels.cu" && where.line == line) {
        found = true;
        expect(c.at(Space::Shared, AccessOp::Load), 32, 1024, 4096, 1024, 32);
        expect(c.at(Space::Global, AccessOp::Store), 32, 1024, 4096, 128, 128);
      }
    CHECK(found);
  }
  SUBCASE("a 32x33 tile: the padding puts a column's words in 32 banks") {
    auto m = observe([&] { ok::transpose_tile(in.ptr, out.ptr, true); });
    expect(at(m, Space::Shared, AccessOp::Load), 32, 1024, 4096, 32, 32);
    CHECK(sim::bank_conflicts(at(m, Space::Shared, AccessOp::Load)) == 0);
  }
  SUBCASE("a broadcast: all lanes read one word (shared) and one float (global)") {
    auto m = observe([&] { ok::broadcast(in.ptr, out.ptr); });
    expect(at(m, Space::Shared, AccessOp::Store), 1, 32, 128, 1, 1);
    expect(at(m, Space::Shared, AccessOp::Load), 1, 32, 128, 1, 1);
    expect(at(m, Space::Global, AccessOp::Load), 2, 64, 256, 4 + 1, 4 + 1);  // in[i] and in[0]
  }
}

TEST_CASE("observe: atomics, one request per warp") {
  if (!nnlab::testing::sim_observable()) return;
  int* counter = nullptr;
  cudaMalloc(&counter, sizeof(int));
  cudaMemset(counter, 0, sizeof(int));
  auto m = observe([&] { ok::count_atomically(counter, 4, 64); });
  expect(at(m, Space::Global, AccessOp::Atomic), 8, 256, 1024, 8, 8);
  int value = 0;
  cudaMemcpy(&value, counter, sizeof(int), cudaMemcpyDeviceToHost);
  CHECK(value == 256);
  cudaFree(counter);
}

TEST_CASE("observe: the naive and tiled GEMMs' counters, by hand") {
  if (!nnlab::testing::sim_observable()) return;
  const int n = 64;  // 2x2 blocks of 32x32 threads: 128 warps, each a row of 32 columns
  Buffer a(n * n), b(n * n), c(n * n);
  using V = ok::GemmVariant;
  SUBCASE("naive: per k, A is a broadcast (1 sector), B a coalesced row (4)") {
    auto m = observe([&] { ok::gemm_variant(V::Naive, false, false, n, n, n, 1.0f, a.ptr, b.ptr, 0.0f, c.ptr); });
    expect(at(m, Space::Global, AccessOp::Load), 128 * n * 2, 128 * n * 64, 128 * n * 256, 128 * n * (1 + 4),
           128 * n * (1 + 4));
    expect(at(m, Space::Global, AccessOp::Store), 128, 4096, 16384, 512, 512);
    CHECK(at(m, Space::Shared, AccessOp::Load).requests == 0);
  }
  SUBCASE("tiled: 2 tiles; per tile a coalesced row of A and of B, 32 broadcast reads of A's tile "
          "and 32 conflict-free reads of B's") {
    auto m = observe([&] { ok::gemm_variant(V::Tiled, false, false, n, n, n, 1.0f, a.ptr, b.ptr, 0.0f, c.ptr); });
    expect(at(m, Space::Global, AccessOp::Load), 128 * 2 * 2, 128 * 2 * 64, 128 * 2 * 256, 128 * 2 * 8, 128 * 2 * 8);
    expect(at(m, Space::Shared, AccessOp::Store), 128 * 2 * 2, 128 * 2 * 64, 128 * 2 * 256, 128 * 2 * 2, 128 * 2 * 2);
    expect(at(m, Space::Shared, AccessOp::Load), 128 * 2 * 64, 128 * 2 * 64 * 32, 128 * 2 * 64 * 128, 128 * 2 * 64,
           128 * 2 * 64);
    CHECK(m.total.block_barriers == 4 * 2 * 2);
  }
}

namespace {
struct Schedule {
  sim::Schedule schedule;
  uint64_t seed;
  int threads;
};
// Every launch's counters, per access site and in total, for f under a schedule.
std::vector<std::pair<sim::Counters, std::vector<sim::LaunchMetrics::Site>>> counters_of(const std::function<void()>& f,
                                                                                        Schedule s) {
  sim::set_schedule(s.schedule, s.seed);
  sim::set_threads(s.threads);
  sim::Recording recording;
  f();
  sim::set_schedule(sim::Schedule::Fifo);
  sim::set_threads(0);
  std::vector<std::pair<sim::Counters, std::vector<sim::LaunchMetrics::Site>>> out;
  for (const auto& m : recording.launches()) out.push_back({m.total, m.sites});
  return out;
}
}  // namespace

TEST_CASE("observe: counters are the same under every schedule and host thread count") {
  if (!nnlab::testing::sim_observable()) return;
  Buffer a(67 * 45), b(45 * 33), c(67 * 33), in(32 * 33), out(32 * 32), x(10000), parts(1024), total(1);
  auto work = [&] {
    using V = ok::GemmVariant;
    for (V v : {V::Naive, V::Tiled, V::RegisterBlocked, V::Vectorized}) {
      ok::gemm_variant(v, false, false, 67, 33, 45, 1.5f, a.ptr, b.ptr, 0.5f, c.ptr);
      ok::gemm_variant(v, true, true, 64, 32, 16, 1.0f, a.ptr, b.ptr, 0.0f, c.ptr);
    }
    ok::transpose_tile(in.ptr, out.ptr, false);
    ok::sum(x.ptr, 10000, parts.ptr, total.ptr);        // shuffles and block_sum's shared memory
    ok::softmax_rows(x.ptr, out.ptr, 7, 100);           // dynamic shared memory
    ok::strided_copy(in.ptr, out.ptr, 3, 1);
  };
  auto reference = counters_of(work, {sim::Schedule::Fifo, 0, 1});
  REQUIRE(reference.size() == 13);
  for (Schedule s : {Schedule{sim::Schedule::Reverse, 0, 1}, Schedule{sim::Schedule::Random, 1, 2},
                     Schedule{sim::Schedule::Random, 2, 1}, Schedule{sim::Schedule::Random, 3, 2},
                     Schedule{sim::Schedule::Fifo, 0, 2}}) {
    CAPTURE(int(s.schedule));
    CAPTURE(s.seed);
    CAPTURE(s.threads);
    auto got = counters_of(work, s);
    REQUIRE(got.size() == reference.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].first == reference[i].first);
      REQUIRE(got[i].second.size() == reference[i].second.size());
      for (size_t j = 0; j < got[i].second.size(); ++j) CHECK(got[i].second[j].counters == reference[i].second[j].counters);
    }
  }
}

TEST_CASE("observe: the plain build is not observed") {
  if (!nnlab::testing::sim_observable()) return;
  Buffer in(64), out(64);
  sim::Recording recording;
  nnlab::cuda_sim::axpy(2.0f, in.ptr, out.ptr, 64);
  CHECK(recording.launches().empty());
}

TEST_CASE("memcheck: out-of-bounds and misaligned accesses, with the allocation and the offset") {
  if (!nnlab::testing::sim_observable()) return;
  Buffer in(64), out(64);
  sim::Checks memcheck{true, false, false};
  observe([&] { ok::copy_n(in.ptr, out.ptr, 64, false); }, memcheck);
  expect_finding([&] { ok::copy_n(in.ptr, out.ptr, 64, true); }, memcheck,
                 {"kernel copy_n_off_by_one_kernel launched at", "memcheck: invalid __global__ read of 4 bytes by block (0, 0, 0) thread (64, 0, 0) at " + where("if (i <= n) out[i] = in[i];"),
                  "0 bytes past the end of allocation #", "(256 bytes at 0x"});
  observe([&] { ok::float4_at(in.ptr, out.ptr, 4); }, memcheck);
  expect_finding([&] { ok::float4_at(in.ptr, out.ptr, 1); }, memcheck,
                 {"memcheck: misaligned __global__ read of 16 bytes", where("float4 v = *reinterpret_cast"),
                  ", offset 4 (address 0x", "is not a multiple of 16)"});
  observe([&] { ok::shared_neighbour(out.ptr, false); }, memcheck);
  expect_finding([&] { ok::shared_neighbour(out.ptr, true); }, memcheck,
                 {"memcheck: invalid __shared__ read of 4 bytes by block (0, 0, 0) thread (31, 0, 0) at",
                  "0 bytes past the end of s (128 bytes)"});
  observe([&] { ok::dynamic_shared_neighbour(out.ptr, false); }, memcheck);
  expect_finding([&] { ok::dynamic_shared_neighbour(out.ptr, true); }, memcheck,
                 {"memcheck: invalid __shared__ read of 4 bytes by block (0, 0, 0) thread (31, 0, 0)",
                  "0 bytes past the end of the block's 128 bytes of dynamic shared memory"});
}

TEST_CASE("racecheck: a missing barrier is found from the access record, under every schedule") {
  if (!nnlab::testing::sim_observable()) return;
  Buffer in(8 * 64), out(8 * 64);
  sim::Checks racecheck{false, true, false};
  for (auto s : {sim::Schedule::Fifo, sim::Schedule::Reverse, sim::Schedule::Random}) {
    CAPTURE(int(s));
    sim::set_schedule(s, 5);
    observe([&] { ok::shift_synced(in.ptr, out.ptr, 8, 64); }, racecheck);
    expect_finding([&] { ok::shift_racy(in.ptr, out.ptr, 8, 64); }, racecheck,
                   {"kernel shift_racy_kernel launched at", "racecheck: race on __shared__ s, offset ",
                    "wrote it at tests/sim_kernels.cu:" +
                        std::to_string(line_of("tests/sim_kernels.cu", "s[t] = in[g];", "shift_racy_kernel")),
                    "read it at tests/sim_kernels.cu:" +
                        std::to_string(line_of("tests/sim_kernels.cu", "out[g] = s[t > 0", "shift_racy_kernel"))});
    // Within a warp, __syncwarp orders lanes; without it, a lane reading another's write races.
    observe([&] { ok::warp_exchange(in.ptr, out.ptr, false); }, racecheck);
    expect_finding([&] { ok::warp_exchange(in.ptr, out.ptr, true); }, racecheck,
                   {"kernel warp_exchange_racy_kernel", "racecheck: race on __shared__ s"});
  }
  sim::set_schedule(sim::Schedule::Fifo);
}

TEST_CASE("initcheck: reading device memory nothing wrote since cudaMalloc") {
  if (!nnlab::testing::sim_observable()) return;
  sim::Checks initcheck{false, false, true};
  sim::Recording recording(initcheck);  // allocations made while initcheck records are tracked
  float *in = nullptr, *out = nullptr, *copy = nullptr, *scratch = nullptr;
  cudaMalloc(&in, 300 * sizeof(float));
  cudaMalloc(&out, 300 * sizeof(float));
  cudaMalloc(&copy, 300 * sizeof(float));
  cudaMalloc(&scratch, 64 * sizeof(float));
  auto fails = [&](const std::function<void()>& f, const std::string& fragment) {
    try {
      f();
      FAIL("no finding");
    } catch (const sim::SimError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(fragment) != std::string::npos, std::string(e.what()));
    }
  };
  fails([&] { ok::read_input(in, out, 300); },
        "initcheck: block (0, 0, 0) thread (0, 0, 0) read 4 bytes at " + where("if (i < n) out[i] = in[i] * 2.0f;") +
            " that nothing wrote since cudaMalloc: allocation #");
  cudaMemcpy(copy, in, 300 * sizeof(float), cudaMemcpyDeviceToDevice);  // copies uninitialised bytes
  fails([&] { ok::read_input(copy, out, 300); }, "that nothing wrote since cudaMalloc");
  cudaMemset(in, 0, 300 * sizeof(float));
  ok::read_input(in, out, 300);
  ok::read_input(out, copy, 300);  // out was written by the launch before
  // Within a block, a write another thread reads after a barrier counts; without one it does not.
  ok::block_local_handoff(scratch, out, false);
  float* fresh = nullptr;
  cudaMalloc(&fresh, 64 * sizeof(float));
  fails([&] { ok::block_local_handoff(fresh, out, true); }, "that nothing wrote since cudaMalloc");
  for (float* p : {in, out, copy, scratch, fresh}) cudaFree(p);
}

TEST_CASE("occupancy: the calculator's arithmetic") {
  auto arch = [](const char* name) {
    for (const auto& a : sim::architectures())
      if (std::string(a.name) == name) return a;
    FAIL("no " << name);
    return sim::architectures()[0];
  };
  // 256 threads, 32 registers: 8 warps a block, 1024 registers a warp, 16 warps per sub-partition.
  auto o = sim::theoretical_occupancy(arch("sm_80"), {32, 0, 0}, 256, 0, 48 * 1024);
  CHECK(o.blocks_per_sm == 8);
  CHECK(o.warps_per_sm == 64);
  CHECK(o.fraction() == 1.0);
  // 64 registers: 2048 a warp, 8 warps per sub-partition, 32 per SM, 4 blocks of 8 warps.
  o = sim::theoretical_occupancy(arch("sm_90"), {64, 8192, 1}, 256, 0, 48 * 1024 - 8192);
  CHECK(o.blocks_per_sm == 4);
  CHECK(o.warps_per_sm == 32);
  CHECK(o.limited_by == "registers");
  // 40 KiB of dynamic shared memory + 1 KiB reserved: 2 blocks in sm_86's 100 KiB.
  o = sim::theoretical_occupancy(arch("sm_86"), {16, 0, 0}, 128, 40 * 1024, 48 * 1024);
  CHECK(o.blocks_per_sm == 2);
  CHECK(o.limited_by == "shared memory");
  // Turing: 1024 threads of 50 registers (1792 a warp): one block of 32 warps, all of them.
  o = sim::theoretical_occupancy(arch("sm_75"), {50, 8192, 1}, 1024, 0, 48 * 1024 - 8192);
  CHECK(o.blocks_per_sm == 1);
  CHECK(o.fraction() == 1.0);
  // More shared memory than a block may have without opt-in cannot run.
  o = sim::theoretical_occupancy(arch("sm_80"), {16, 0, 0}, 128, 64 * 1024, 48 * 1024);
  CHECK(o.blocks_per_sm == 0);
#ifdef NNLAB_HAVE_CUDA_OCCUPANCY
  // Against the toolkit's calculator over a grid of launches.
  for (const auto& a : sim::architectures())
    for (int threads : {32, 96, 128, 256, 512, 640, 1024})
      for (int registers : {8, 24, 32, 40, 63, 72, 128, 255})
        for (int smem : {0, 4096, 8192, 30000})
          for (size_t dynamic : {size_t(0), size_t(1000), size_t(20000)}) {
            cudaOccDeviceProp p;
            p.computeMajor = a.major;
            p.computeMinor = a.minor;
            p.maxThreadsPerBlock = a.max_threads_per_block;
            p.maxThreadsPerMultiprocessor = a.max_threads_per_sm;
            p.regsPerBlock = a.registers_per_block;
            p.regsPerMultiprocessor = a.registers_per_sm;
            p.warpSize = 32;
            p.sharedMemPerBlock = a.shared_per_block;
            p.sharedMemPerMultiprocessor = a.shared_per_sm;
            p.numSms = 100;
            p.sharedMemPerBlockOptin = a.shared_per_block_opt_in;
            p.reservedSharedMemPerBlock = a.reserved_shared_per_block;
            cudaOccFuncAttributes f;
            f.maxThreadsPerBlock = 1024;
            f.numRegs = registers;
            f.sharedSizeBytes = size_t(smem);
            f.partitionedGCConfig = PARTITIONED_GC_OFF;
            f.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
            f.maxDynamicSharedSizeBytes = 48 * 1024 - size_t(smem);
            f.numBlockBarriers = 1;
            cudaOccDeviceState state;
            cudaOccResult result;
            REQUIRE(cudaOccMaxActiveBlocksPerMultiprocessor(&result, &p, &f, &state, threads, dynamic) ==
                    CUDA_OCC_SUCCESS);
            auto mine = sim::theoretical_occupancy(a, {registers, smem, 1}, threads, dynamic, 48 * 1024 - size_t(smem));
            CAPTURE(a.name);
            CAPTURE(threads);
            CAPTURE(registers);
            CAPTURE(smem);
            CAPTURE(dynamic);
            CHECK(mine.blocks_per_sm == result.activeBlocksPerMultiprocessor);
          }
#endif
}

TEST_CASE("occupancy: from the nvcc build's resource usage, or why not") {
  if (!nnlab::testing::sim_observable()) return;
  Buffer a(64 * 64), b(64 * 64), c(64 * 64);
  auto m = observe([&] {
    ok::gemm_variant(ok::GemmVariant::Tiled, false, false, 64, 64, 64, 1.0f, a.ptr, b.ptr, 0.0f, c.ptr);
  });
  CHECK(m.function == "(anonymous namespace)::gemm_tiled_kernel(bool, bool, long, long, long, float, float const*, "
                      "float const*, float, float*)");
  std::string why = sim::resource_table_unavailable_reason();
  if (!why.empty()) {
    CHECK(m.occupancy.architectures.empty());
    CHECK(m.occupancy.unavailable.find("nvcc") != std::string::npos);
    MESSAGE("occupancy " << m.occupancy.unavailable);
    return;
  }
  // Every kernel of nnlab/backends/cuda/*.cu and of the kernel lab (lab/*.cu, one instance
  // each) is in the table, for every architecture.
  size_t kernels = 0;
  for (const auto& k : sim::kernel_sources())
    kernels += std::string(k.file).rfind("nnlab/backends/cuda/", 0) == 0 || std::string(k.file).rfind("lab/", 0) == 0;
  CHECK(sim::resource_table_kernels() == kernels);
  REQUIRE(m.occupancy.architectures.size() == sim::architectures().size());
  for (const auto& o : m.occupancy.architectures) {
    CAPTURE(o.arch);
    CHECK(o.resources.registers > 0);
    CHECK(o.resources.static_shared_bytes == 2 * 32 * 32 * 4);  // a_tile and b_tile
    CHECK(o.blocks_per_sm >= 1);
  }
}
