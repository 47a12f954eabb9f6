// What the simulator sees of every memory access, and what it makes of it: Nsight Compute's
// counters and compute-sanitizer's checks for the hand-written kernels, on any CPU.
//
// The kernels compile a second time for the simulator (nnlab::cuda_sim_observed, CMake's
// nnlab_kernels_sim_observed) with GCC's -fsanitize=thread instrumentation and without its
// runtime: every load and store the compiler keeps calls a hook (nnlab/sim/observe_hooks.cpp)
// with the address, the size and the code address of the access. The plain build
// (nnlab::cuda_sim) has no hooks and costs what it always did; the observed build records
// while a Recording is alive and only then.
//
// Definitions (the README has the long form):
//   request   one warp-level execution of a memory instruction. Lanes of one warp belong to
//             the same request when they execute the same access site (code address) for the
//             k-th time since the last __syncthreads, __syncwarp or shuffle they passed
//             together. Per-thread counts and per-thread barrier counts do not depend on the
//             order in which the scheduler runs threads, so neither do requests.
//   sector    32 aligned bytes of global memory; a request touches the sectors its lanes' bytes
//             fall in; ideal: the distinct bytes requested, rounded up to whole sectors.
//   wavefront one pass of shared memory: 32 banks of 4 bytes serve one word each per pass, so a
//             request needs as many as the most distinct words asked of one bank; lanes reading
//             the same word are a broadcast. 8-byte accesses go in two phases of 16 lanes and
//             16-byte accesses in four phases of 8 lanes, each phase its own passes; ideal: one
//             per phase with an active lane.
//   basic block  a straight run of the kernel's code, entered at its top (GCC's coverage
//             instrumentation marks each): a warp executes a block once for all the lanes
//             that enter it together, grouped as requests are, so divergent paths each count.
//             Its instructions are those of the simulator's own x86 code, classified as a GPU
//             would execute them (instructions.h): a count of the source's work, not of SASS.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nnlab/sim/occupancy.h"
#include "nnlab/sim/sim.h"

namespace nnlab::sim {

// "" when this build holds the observed kernels; otherwise why it does not.
std::string observation_unavailable_reason();

// compute-sanitizer's tools. memcheck stops the thread at the bad access (it never happens);
// racecheck and initcheck let the launch finish. Any finding makes the launch throw a SimError
// that names the kernel, block, thread, source line, the allocation or array and the offset.
struct Checks {
  bool memcheck = false;   // out-of-bounds and misaligned global and shared accesses
  bool racecheck = false;  // a shared word written by one thread, used by another, no barrier
  bool initcheck = false;  // global memory read before anything wrote it since cudaMalloc
  static Checks all() { return {true, true, true}; }
};

enum class Space : uint8_t { Global, Shared };
enum class AccessOp : uint8_t { Load, Store, Atomic };

struct MemoryCounters {
  uint64_t requests = 0;      // warp-level executions (see above)
  uint64_t lanes = 0;         // active lanes summed over the requests: thread-level accesses
  uint64_t bytes = 0;         // bytes the lanes asked for
  uint64_t transactions = 0;  // sectors (global) or wavefronts (shared)
  uint64_t ideal = 0;         // the fewest sectors or wavefronts for the same bytes
  // Global: L1TEX wavefronts, the more of the tag stage's (4 distinct 128-byte lines a
  // cycle) and the data stage's (the lanes' words over 32 banks of 4 bytes, as shared memory).
  uint64_t l1_wavefronts = 0;
  // Shared: the passes of compute capability 1.x (the 8800 GTX): 16 banks of 4 bytes serving
  // each half-warp on its own.
  uint64_t half_warp_wavefronts = 0;
  MemoryCounters& operator+=(const MemoryCounters& o);
  bool operator==(const MemoryCounters& o) const;
};

struct Counters {
  MemoryCounters memory[2][3];  // [Space][AccessOp]
  uint64_t barriers = 0;        // warp-level executions of __syncthreads
  uint64_t barrier_lanes = 0;   // the lanes of those warps that arrived
  uint64_t block_barriers = 0;  // __syncthreads released, one per block each time
  uint64_t warp_operations = 0;  // warp-level shuffles and __syncwarp
  uint64_t basic_blocks = 0;       // warp-level executions of the kernel's basic blocks
  uint64_t basic_block_lanes = 0;  // the lanes that entered them, summed
  // Warp-level instructions of those blocks other than memory accesses, barriers and warp
  // operations (counted above): integer, branch and floating-point work (instructions.h).
  uint64_t alu_instructions = 0;
  uint64_t fp32_instructions = 0;  // of which floating point, a multiply and an add fused
  uint64_t block_sectors = 0;      // per block, the distinct global sectors it loaded, summed
  MemoryCounters& at(Space s, AccessOp op) { return memory[int(s)][int(op)]; }
  const MemoryCounters& at(Space s, AccessOp op) const { return memory[int(s)][int(op)]; }
  Counters& operator+=(const Counters& o);
  bool operator==(const Counters& o) const;
};

struct SourceLine {
  std::string file;  // relative to the project's source directory where it lies inside
  int line = 0;
  bool operator<(const SourceLine& o) const { return file != o.file ? file < o.file : line < o.line; }
};

struct LaunchMetrics {
  std::string kernel;       // as named in NNLAB_LAUNCH
  std::string function;     // its signature, namespaces of the build removed ("" if unknown)
  std::string launch_site;  // file:line of the NNLAB_LAUNCH
  std::string label;        // what the Recording's label source said (e.g. the op)
  dim3 grid, block;
  size_t dynamic_shared_bytes = 0;
  Counters total;
  uint64_t simulated_blocks = 0;  // the grid's blocks, or fewer under sim::set_block_sample
  // Distinct global sectors the simulated blocks loaded and stored, and the sectors of the
  // allocations they touched (a sample's upper bound on the whole launch's).
  uint64_t footprint_load_sectors = 0, footprint_store_sectors = 0, touched_allocation_sectors = 0;
  std::string instructions_unavailable;  // why alu_instructions are 0 ("" when counted)
  // Per access site (code address) and per __syncthreads site; by_line() maps them to lines.
  struct Site {
    uintptr_t code = 0;      // 0 for a barrier site
    const char* file = "";   // a barrier site's file and line
    int line = 0;
    Counters counters;
  };
  std::vector<Site> sites;
  OccupancyReport occupancy;
  std::vector<std::pair<SourceLine, Counters>> by_line() const;  // sorted by file and line
};

// Records the observed kernels' launches while alive; one at a time in a process. Launches go
// to on_launch when it is set (to aggregate), otherwise into launches().
class Recording {
 public:
  explicit Recording(Checks checks = {});
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;
  static Recording* active();

  const Checks& checks() const { return checks_; }
  std::vector<LaunchMetrics>& launches() { return launches_; }
  // Asked on the launching thread at each launch; the answer becomes LaunchMetrics::label.
  std::function<std::string()> label;
  std::function<void(LaunchMetrics&&)> on_launch;

 private:
  Checks checks_;
  std::vector<LaunchMetrics> launches_;
};

// Host-side writes into device memory (cudaMemcpy, cudaMemset), for initcheck: `src` is the
// device source of a device-to-device copy (its initialised bytes are copied), else null.
void note_device_write(void* dst, size_t bytes, const void* src_device = nullptr);

// Every __global__ function of nnlab/backends/cuda/*.cu, tests/*.cu and lab/*.cu, from the sources
// (by the build).
struct KernelSource {
  const char* name;  // "gemm_tiled_kernel"
  const char* file;  // "nnlab/backends/cuda/gemm.cu"
};
const std::vector<KernelSource>& kernel_sources();
// "gemm_tiled_kernel" of a demangled signature such as
// "void nnlab::cuda_sim_observed::(anonymous namespace)::k<32>(float const*)" -> "k".
std::string unqualified_name(const std::string& signature);

// The counters a human reads, derived from Counters.
double per_request(const MemoryCounters& c);       // sectors or wavefronts per request
double ideal_per_request(const MemoryCounters& c);
double lanes_per_request(const MemoryCounters& c);  // active lanes per request (32: no divergence)
uint64_t bank_conflicts(const MemoryCounters& shared);  // wavefronts beyond the ideal
// Every warp-level instruction counted: ALU, memory requests, barriers, warp operations.
uint64_t warp_instructions(const Counters& c);

// The counters as tables show them: one list of names for terminals, CSV and JSON.
struct MetricValue {
  const char* name;
  double value;
};
std::vector<MetricValue> metric_values(const Counters& c);
// One line for a terminal, e.g. "global ld 1024 req x 4.00 sectors (ideal 4.00), st ...".
std::string metrics_line(const Counters& c);
// "occupancy sm_75 100% sm_80 67% ... (sm_90: 4 blocks/SM, limited by registers)", or why not.
std::string occupancy_line(const OccupancyReport& r);

}  // namespace nnlab::sim
