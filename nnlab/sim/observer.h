// Internal to the simulator: the observer of one launch of the observed kernels, as the engine
// (sim.cpp) and the access hooks (observe_hooks.cpp) drive it. observe.h has the definitions.
//
// The hooks append each access of a thread to that thread's log (its code address, address,
// size, and the thread's epoch: the barriers and warp operations it has passed). When a
// __syncthreads is released, and when the block ends, every log of the block is complete up
// to that point: the observer groups the logs into requests per warp, counts, checks, and
// empties them. Nothing depends on the order the scheduler ran the threads in.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "nnlab/sim/observe.h"

namespace nnlab::sim::detail {

// Bytes around every device allocation and after dynamic shared memory that belong to no one:
// an access there is out of bounds for certain.
constexpr size_t kRedZone = 256;

// One access in a thread's log, 16 bytes (the logs are the observer's memory traffic).
struct Access {
  uint32_t site;   // the hook's return address (the access site), from the executable's base
  uint32_t epoch;  // the thread's barriers + warp operations passed
  uint64_t bits;   // address (48 bits), size (5), op (2), space (1), suspect (1), block (1)
  static Access make(uint32_t site, uint32_t epoch, uintptr_t address, unsigned size, AccessOp op, Space space,
                     bool suspect) {
    return {site, epoch,
            uint64_t(address) | uint64_t(size) << 48 | uint64_t(op) << 53 | uint64_t(space) << 55 |
                uint64_t(suspect) << 56};
  }
  // The entry into a basic block (no memory access): `site` is where the block begins.
  static Access block(uint32_t site, uint32_t epoch) { return {site, epoch, uint64_t(1) << 57}; }
  bool is_block() const { return bits >> 57 & 1; }
  uintptr_t address() const { return uintptr_t(bits & ((uint64_t(1) << 48) - 1)); }
  uint32_t size() const { return uint32_t(bits >> 48 & 31); }
  AccessOp op() const { return AccessOp(bits >> 53 & 3); }
  Space space() const { return Space(bits >> 55 & 1); }
  bool suspect() const { return bits >> 56 & 1; }
};

struct Shadow;  // initcheck's record of which bytes of an allocation were written
struct AllocationView {
  uintptr_t start, end;  // the bytes asked for
  uint64_t id;           // in order of cudaMalloc, from 1
  Shadow* shadow;        // null: not tracked (created before initcheck began, or written unseen)
};

// What a check found; formatted (with source lines) when the launch ends.
struct Finding {
  std::string tool;  // memcheck, racecheck, initcheck
  uint64_t block = 0;
  unsigned thread = 0, other_thread = 0;
  uintptr_t code = 0, other_code = 0;
  std::string what;  // the rest of the report, without source lines
  bool operator<(const Finding& o) const;
};

class LaunchObserver;

// The blocks one OS thread runs for an observed launch.
class BlockObserver {
 public:
  explicit BlockObserver(LaunchObserver& launch);
  ~BlockObserver();  // hands its counts to the launch
  void begin_block(uint64_t block_linear, size_t threads, void* dynamic_shared);
  void resumed(unsigned thread, const void* stack_bottom, size_t stack_size) {
    thread_ = thread;
    stack_lo_ = reinterpret_cast<uintptr_t>(stack_bottom);
    stack_size_ = stack_size;
  }
  // The thread stopped at a __syncthreads or ended: once its whole warp has, the warp's
  // logs are complete for the phase and, unless a check needs the whole block's, counted.
  void paused(unsigned thread, bool ended);
  void warp_released(size_t first_thread, size_t lanes);
  // arrived[t]: thread t waits at this barrier (the others have exited).
  void barrier_released(const char* file, int line, const std::vector<uint8_t>& arrived);
  void end_block();
  void record(uintptr_t address, unsigned size, AccessOp op, uintptr_t code);
  void record_block(uintptr_t code);  // the running thread enters the basic block at `code`
  // The report of the memcheck finding that stopped the running thread.
  std::string fault_report();

  struct Lane {
    uintptr_t address;
    uint32_t size;
    uint32_t lane;
  };
  struct Request {
    uintptr_t code;
    Space space;
    AccessOp op;
    bool block = false;  // a basic block's execution, not a memory access
    int lanes = 0;
    Lane lane[32];
  };

 private:
  friend class LaunchObserver;
  void process_phase();
  void group_warp(size_t first, size_t lanes);
  void account(const Request& r);
  void mark_sectors(const Request& r);  // the footprints (global requests)
  Counters& site(uintptr_t code);
  void check_races();
  void check_initialisation();
  const AllocationView* find_allocation(uintptr_t address);
  [[noreturn]] void stop(Finding f);
  std::string describe(uintptr_t address) const;  // "allocation #3 (400 bytes) offset 404"

  LaunchObserver& launch_;
  const Checks checks_;
  // The running thread, its stack, and where shared memory lies for this OS thread.
  unsigned thread_ = 0;
  uintptr_t stack_lo_ = 0, stack_size_ = 0;
  uintptr_t dynamic_lo_ = 0, dynamic_bytes_ = 0;
  uintptr_t tls_lo_ = 0, tls_bytes_ = 0, anchor_ = 0;
  struct Region {
    uintptr_t lo, hi;
    const std::string* name;
  };
  std::vector<Region> shared_arrays_;  // the kernel's window, absolute, sorted
  size_t last_allocation_ = 0;

  uint64_t block_ = 0;
  size_t threads_ = 0;
  std::vector<std::vector<Access>> logs_;
  std::vector<uint32_t> epochs_;
  std::vector<uint8_t> ended_;     // per thread
  std::vector<uint32_t> arrived_;  // per warp: lanes at the phase's end (barrier or exit)
  bool eager_;                     // count each warp as soon as it is complete (no block-wide check)
  uintptr_t code_base_ = 0;
  uintptr_t code(const Access& e) const { return code_base_ + e.site; }

  // What this OS thread contributes to the launch.
  Counters total_;
  std::unordered_map<uintptr_t, Counters> sites_;
  uintptr_t last_code_ = 0;
  Counters* last_site_ = nullptr;
  struct BarrierSite {
    const char* file;
    int line;
    Counters counters;
  };
  std::vector<BarrierSite> barrier_sites_;
  std::vector<Finding> findings_;
  Finding fault_;
  // initcheck: global bytes this block wrote before the current phase (word -> byte mask), and
  // every global write of the launch, applied to the shadows when the launch ends.
  std::unordered_map<uintptr_t, uint8_t> block_written_;
  std::vector<std::pair<uintptr_t, uint32_t>> launch_writes_;
  // Global sectors this block loaded (a bitmap per allocation, by index in the launch's
  // allocations_), the words set since the block began (to clear), and their count.
  std::vector<std::vector<uint64_t>> block_loaded_;
  std::vector<std::pair<uint32_t, uint32_t>> block_loaded_words_;
  uint64_t block_loaded_count_ = 0;
  // scratch
  std::vector<Request> requests_;
  std::vector<std::vector<Access>> spare_logs_;  // counted warps' buffers, for the next warps
};

class LaunchObserver {
 public:
  LaunchObserver(const LaunchSite& site, const void* kernel, dim3 grid, dim3 block,
                 size_t dynamic_shared, Recording& recording);
  // Merges what the OS threads saw, publishes the LaunchMetrics, throws SimError for findings.
  void finish(uint64_t simulated_blocks);
  std::string format(const Finding& f);  // with the threads and source lines named
  std::string thread_name(uint64_t block, unsigned thread) const;  // "block (0, 0, 0) thread (3, 0, 0)"
  std::string thread_in_block(unsigned thread) const;               // "thread (3, 0, 0)"

 private:
  friend class BlockObserver;
  void merge(BlockObserver& b);
  Recording& recording_;
  const void* kernel_;
  LaunchMetrics metrics_;
  Checks checks_;
  std::string window_error_;
  std::vector<std::pair<uintptr_t, uintptr_t>> window_;  // the kernel's shared arrays: TLS offset, bytes
  std::vector<const std::string*> window_names_;
  std::vector<AllocationView> allocations_;  // sorted by start
  // The launch's footprint: per allocation (as allocations_), a bitmap of the sectors loaded
  // and of those stored, allocated when first touched, set with atomic ORs.
  struct Footprint {
    explicit Footprint(size_t allocations);
    ~Footprint();
    // The bitmap of allocation `a` (`sectors` of them) in `which` (loaded or stored).
    uint64_t* bits(std::atomic<uint64_t*>* which, size_t a, size_t sectors);
    uint64_t count(std::atomic<uint64_t*>* which, const std::vector<AllocationView>& allocations) const;
    size_t allocations;
    std::unique_ptr<std::atomic<uint64_t*>[]> loaded, stored;
  };
  std::unique_ptr<Footprint> footprint_;  // made once allocations_ is known
  std::vector<std::shared_ptr<Shadow>> shadows_;  // kept alive for the launch
  std::mutex mutex_;
  std::unordered_map<uintptr_t, Counters> sites_;
  std::vector<BlockObserver::BarrierSite> barrier_sites_;
  std::vector<Finding> findings_;
  std::vector<std::pair<uintptr_t, uint32_t>> writes_;
};

// A LaunchObserver when a Recording is active and the launch comes from the observed build;
// otherwise null. Throws SimError when the build cannot observe (see observe.h).
std::unique_ptr<LaunchObserver> observe_launch(const LaunchSite& site, const void* kernel, dim3 grid,
                                               dim3 block, size_t dynamic_shared);

// The block this OS thread is running under observation (null otherwise): the hooks' target.
extern thread_local BlockObserver* t_observer;

// sim.cpp's side. stop_running_thread: back to the scheduler for good (the thread's next
// instruction never runs); opted_in_dynamic_shared: cudaFuncSetAttribute's value or 0.
[[noreturn]] void stop_running_thread();
size_t opted_in_dynamic_shared(const void* kernel);
void allocation_created(void* ptr, size_t bytes);
void allocation_freed(void* ptr);
bool initcheck_tracking();  // some allocation has an initcheck shadow

}  // namespace nnlab::sim::detail
