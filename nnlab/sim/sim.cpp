// The simulator's engine: fibers (boost.context's fcontext: a switch costs a few ns), the
// per-block scheduler, launch checks and the device memory domain. See sim.h.
#include "nnlab/sim/sim.h"

#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/context/detail/fcontext.hpp>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <vector>

#include "nnlab/core/philox.h"
#include "nnlab/sim/observer.h"

namespace nnlab::sim {
namespace ctx = boost::context::detail;

thread_local ThreadContext* current = nullptr;

namespace {
// AddressSanitizer must be told about every switch between stacks, or it takes the fibers'
// stacks for corruption. Without ASan these are empty and vanish.
#if defined(__SANITIZE_ADDRESS__)
void sanitizer_start_switch(void** fake_stack, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
}
void sanitizer_finish_switch(void* fake_stack, const void** old_bottom, size_t* old_size) {
  __sanitizer_finish_switch_fiber(fake_stack, old_bottom, old_size);
}
#else
void sanitizer_start_switch(void**, const void*, size_t) {}
void sanitizer_finish_switch(void*, const void**, size_t*) {}
#endif

Schedule g_schedule = Schedule::Fifo;
uint64_t g_seed = 0;
bool g_strict = true;
int g_os_threads = 0;
uint64_t g_block_sample = 0;

std::mutex g_memory_mutex;
std::map<uintptr_t, size_t> g_allocations;  // device allocations: start -> size
size_t g_bytes_in_use = 0;
std::map<const void*, size_t> g_shared_opt_in;

std::string where(const LaunchSite& s) {
  return std::string("kernel ") + s.kernel + " launched at " + s.file + ":" +
         std::to_string(s.line);
}
std::string dims(dim3 d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}

// Fiber stacks: 64 KiB with a guard page below, kept per OS thread and reused across blocks.
constexpr size_t kStackBytes = 64 * 1024;
struct Stack {
  void* base = nullptr;  // the mapping, guard page first
  size_t size = 0;
  void* top() const { return static_cast<char*>(base) + size; }
};
struct StackPool {
  std::vector<Stack> stacks;
  ~StackPool() {
    for (auto& s : stacks) munmap(s.base, s.size);
  }
  Stack& get(size_t i) {  // once per thread of every block: the common case stays inline
    if (i >= stacks.size()) grow(i);
    return stacks[i];
  }
  __attribute__((noinline)) void grow(size_t i) {
    while (stacks.size() <= i) {
      size_t page = size_t(sysconf(_SC_PAGESIZE)), size = kStackBytes + page;
      void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
      if (base == MAP_FAILED) throw SimError("simulator: cannot map a fiber stack");
      mprotect(base, page, PROT_NONE);  // a stack overflow faults instead of corrupting memory
      stacks.push_back({base, size});
    }
  }
};
thread_local StackPool t_stacks;
thread_local std::vector<unsigned char> t_dynamic_shared;

// Stopped: memcheck stopped the thread before a bad access; it is never resumed.
enum class State { Ready, AtBarrier, AtWarp, Done, Stopped };

struct Block;
struct Fiber {
  ctx::fcontext_t context = nullptr;
  const void* stack_bottom = nullptr;  // its usable stack, for the sanitizer
  size_t stack_size = 0;
  void* sanitizer_fake_stack = nullptr;
  State state = State::Ready;
  const char* file = "";  // where it waits
  int line = 0;
  uint64_t warp_generation = 0;
  ThreadContext tc;
  Block* block = nullptr;
};

struct Block {
  const LaunchSite* site;
  const std::function<void()>* body;
  std::vector<Fiber> fibers;
  ctx::fcontext_t scheduler = nullptr;
  const void* scheduler_stack_bottom = nullptr;  // learnt at the first switch, for the sanitizer
  size_t scheduler_stack_size = 0;
  std::vector<std::array<uint64_t, 32>> warp_slots[2];  // double-buffered lane values per warp
  std::exception_ptr error;
  Fiber* running = nullptr;
  detail::BlockObserver* observer = nullptr;  // an observed launch's (observe.h)
  std::vector<uint8_t> arrived;               // scratch for the observer

  std::string thread_name(const Fiber& f) const {
    return "block " + dims(dim3(f.tc.block_idx.x, f.tc.block_idx.y, f.tc.block_idx.z)) +
           " thread " + dims(dim3(f.tc.thread_idx.x, f.tc.thread_idx.y, f.tc.thread_idx.z));
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw SimError(where(*site) + ": " + what);
  }
};

thread_local Block* t_block = nullptr;

// Back to the scheduler; returns when the scheduler resumes this fiber.
void yield(Fiber& f, State state, const char* file, int line) {
  f.state = state;
  f.file = file;
  f.line = line;
  Block& b = *f.block;
  sanitizer_start_switch(&f.sanitizer_fake_stack, b.scheduler_stack_bottom, b.scheduler_stack_size);
  ctx::transfer_t t = ctx::jump_fcontext(b.scheduler, nullptr);
  sanitizer_finish_switch(f.sanitizer_fake_stack, &b.scheduler_stack_bottom, &b.scheduler_stack_size);
  b.scheduler = t.fctx;
}

void fiber_main(ctx::transfer_t t) {
  Fiber& f = *static_cast<Fiber*>(t.data);
  sanitizer_finish_switch(nullptr, &f.block->scheduler_stack_bottom, &f.block->scheduler_stack_size);
  f.block->scheduler = t.fctx;
  try {
    (*f.block->body)();
  } catch (...) {
    if (!f.block->error) f.block->error = std::current_exception();
  }
  f.state = State::Done;
  // A null fake stack tells the sanitizer this fiber is gone.
  sanitizer_start_switch(nullptr, f.block->scheduler_stack_bottom, f.block->scheduler_stack_size);
  ctx::jump_fcontext(f.block->scheduler, nullptr);  // never resumed again
}

void resume(Block& b, Fiber& f) {
  current = &f.tc;
  b.running = &f;
  void* fake_stack = nullptr;
  sanitizer_start_switch(&fake_stack, f.stack_bottom, f.stack_size);
  ctx::transfer_t t = ctx::jump_fcontext(f.context, &f);
  sanitizer_finish_switch(fake_stack, nullptr, nullptr);
  f.context = t.fctx;
  b.running = nullptr;
}

std::vector<size_t> pass_order(size_t n, uint64_t block_linear, uint64_t pass) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (g_schedule == Schedule::Reverse) std::reverse(order.begin(), order.end());
  if (g_schedule == Schedule::Random) {
    for (size_t i = n - 1; i > 0; --i) {
      philox::Uint4 r = philox::philox4x32_10(block_linear << 40 ^ pass << 20 ^ i, g_seed);
      std::swap(order[i], order[r.x % (i + 1)]);
    }
  }
  return order;
}

// Releases whatever can proceed; false when nothing can (a deadlock, reported by the caller).
bool release(Block& b) {
  size_t n = b.fibers.size(), live = 0, at_barrier = 0;
  bool released = false;
  for (size_t w = 0; w * 32 < n; ++w) {
    size_t first = w * 32, last = std::min(n, first + 32), waiting = 0, done = 0;
    for (size_t i = first; i < last; ++i) {
      waiting += b.fibers[i].state == State::AtWarp;
      done += b.fibers[i].state == State::Done;
    }
    if (waiting == 0 || waiting + done != last - first) continue;
    if (done > 0 || last - first < 32) {
      const Fiber& f =
          b.fibers[first + (b.fibers[first].state == State::Done ? last - first - 1 : 0)];
      b.fail("warp " + std::to_string(w) + " of " + b.thread_name(f) + ": a warp operation at " +
             f.file + ":" + std::to_string(f.line) + " needs all 32 lanes, but " +
             (done ? std::to_string(done) + " exited"
                   : "the warp has only " + std::to_string(last - first)) +
             " (partial warps and exited lanes are not portable)");
    }
    for (size_t i = first + 1; i < last; ++i) {
      const Fiber &a = b.fibers[first], &o = b.fibers[i];
      if (o.line != a.line || std::strcmp(o.file, a.file) != 0)
        b.fail("divergent warp operations in warp " + std::to_string(w) + ": " + b.thread_name(a) +
               " at " + a.file + ":" + std::to_string(a.line) + ", " + b.thread_name(o) + " at " +
               o.file + ":" + std::to_string(o.line));
    }
    for (size_t i = first; i < last; ++i) b.fibers[i].state = State::Ready;
    if (b.observer) b.observer->warp_released(first, last - first);
    released = true;
  }
  if (released) return true;
  const Fiber* some_barrier = nullptr;
  for (const Fiber& f : b.fibers) {
    if (f.state == State::Done) continue;
    ++live;
    if (f.state == State::AtBarrier) {
      ++at_barrier;
      if (!some_barrier)
        some_barrier = &f;
      else if (f.line != some_barrier->line || std::strcmp(f.file, some_barrier->file) != 0)
        b.fail("divergent __syncthreads: " + b.thread_name(*some_barrier) + " waits at " +
               some_barrier->file + ":" + std::to_string(some_barrier->line) + ", " +
               b.thread_name(f) + " at " + f.file + ":" + std::to_string(f.line));
    }
  }
  if (live == 0 || at_barrier != live) return false;
  if (live != n && g_strict)
    b.fail("__syncthreads at " + std::string(some_barrier->file) + ":" +
           std::to_string(some_barrier->line) + " is reached by " + std::to_string(live) + " of " +
           std::to_string(n) +
           " threads; the others returned early (a barrier after an early return)");
  if (b.observer) {
    b.arrived.resize(n);
    for (size_t i = 0; i < n; ++i) b.arrived[i] = b.fibers[i].state == State::AtBarrier;
    b.observer->barrier_released(some_barrier->file, some_barrier->line, b.arrived);
  }
  for (Fiber& f : b.fibers)
    if (f.state == State::AtBarrier) f.state = State::Ready;
  return true;
}

// kObserved: the block runs under an observer (observe.h); the plain instantiation is the
// engine without a branch for it.
template <bool kObserved>
void run_block(Block& b, uint64_t block_linear) {
  for (size_t i = 0; i < b.fibers.size(); ++i) {
    Stack& s = t_stacks.get(i);
    b.fibers[i].context = ctx::make_fcontext(s.top(), s.size, fiber_main);
    b.fibers[i].stack_bottom = static_cast<char*>(s.top()) - kStackBytes;  // above the guard page
    b.fibers[i].stack_size = kStackBytes;
  }
  for (uint64_t pass = 0;; ++pass) {
    for (size_t i : pass_order(b.fibers.size(), block_linear, pass)) {
      Fiber& f = b.fibers[i];
      if (f.state != State::Ready) continue;
      if constexpr (kObserved) b.observer->resumed(f.tc.linear_id, f.stack_bottom, f.stack_size);
      resume(b, f);
      if (b.error) std::rethrow_exception(b.error);
      if constexpr (kObserved) {
        if (f.state == State::Stopped) b.fail(b.observer->fault_report());
        if (f.state == State::AtBarrier || f.state == State::Done)
          b.observer->paused(f.tc.linear_id, f.state == State::Done);
      }
    }
    bool all_done = std::all_of(b.fibers.begin(), b.fibers.end(),
                                [](const Fiber& f) { return f.state == State::Done; });
    if (all_done) {
      if constexpr (kObserved) b.observer->end_block();
      return;
    }
    if (!release(b)) {
      std::string states;
      for (const Fiber& f : b.fibers)
        if (f.state != State::Done && states.size() < 400)
          states += "\n  " + b.thread_name(f) +
                    (f.state == State::AtWarp ? " at a warp operation " : " at __syncthreads ") +
                    f.file + ":" + std::to_string(f.line);
      b.fail("deadlock: no thread can proceed" + states);
    }
  }
}

void check_launch(const LaunchSite& site, const void* kernel, dim3 grid, dim3 block,
                  size_t shared) {
  // The codes the CUDA runtime gives (runtime.h): an invalid configuration for the shape of
  // the launch, an invalid value for dynamic shared memory over the kernel's limit.
  enum { kInvalidValue = 1, kInvalidConfiguration = 9 };
  auto fail = [&](const std::string& what, int error = kInvalidConfiguration) {
    throw LaunchConfigError(error, where(site), what);
  };
  unsigned bd[3] = {block.x, block.y, block.z}, gd[3] = {grid.x, grid.y, grid.z};
  for (int i = 0; i < 3; ++i) {
    if (bd[i] == 0 || gd[i] == 0)
      fail("a zero dimension: grid " + dims(grid) + ", block " + dims(block));
    if (bd[i] > kMaxBlockDim[i])
      fail("block " + dims(block) + ": dimension " + "xyz"[i] + " is " + std::to_string(bd[i]) +
           ", the limit is " + std::to_string(kMaxBlockDim[i]));
    if (gd[i] > kMaxGridDim[i])
      fail("grid " + dims(grid) + ": dimension " + "xyz"[i] + " exceeds " +
           std::to_string(kMaxGridDim[i]));
  }
  uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (threads > kMaxThreadsPerBlock)
    fail("block " + dims(block) + " has " + std::to_string(threads) + " threads, the limit is " +
         std::to_string(kMaxThreadsPerBlock));
  size_t limit = kDefaultDynamicShared;
  {
    std::lock_guard<std::mutex> lock(g_memory_mutex);
    auto it = g_shared_opt_in.find(kernel);
    if (it != g_shared_opt_in.end()) limit = it->second;
  }
  if (shared > limit)
    fail(std::to_string(shared) + " bytes of dynamic shared memory, the limit is " +
         std::to_string(limit) +
         (limit == kDefaultDynamicShared
              ? " without cudaFuncSetAttribute(MaxDynamicSharedMemorySize)"
              : ""),
         kInvalidValue);
}
}  // namespace

void set_schedule(Schedule s, uint64_t seed) {
  g_schedule = s;
  g_seed = seed;
}
Schedule schedule() {
  return g_schedule;
}
void set_strict_barriers(bool strict) {
  g_strict = strict;
}
void set_threads(int os_threads) {
  g_os_threads = os_threads;
}
void set_block_sample(uint64_t max_blocks) {
  g_block_sample = max_blocks;
}
uint64_t block_sample() {
  return g_block_sample;
}

static Fiber& running_fiber(const char* what) {
  if (!t_block || !t_block->running)
    throw SimError(std::string(what) + " called outside a simulated kernel");
  return *t_block->running;
}

void syncthreads(const char* file, int line) {
  yield(running_fiber("__syncthreads"), State::AtBarrier, file, line);
}

unsigned lane_id() {
  return running_fiber("lane_id").tc.linear_id % 32;
}

void syncwarp(const char* file, int line, unsigned mask) {
  Fiber& f = running_fiber("__syncwarp");
  if (mask != 0xffffffffu)
    f.block->fail(f.block->thread_name(f) + ": __syncwarp with partial mask at " + file + ":" +
                  std::to_string(line) + " (partial masks are not portable)");
  yield(f, State::AtWarp, file, line);
}

namespace {
// Deposits this lane's value for its warp, waits for the whole warp and hands read() every
// lane's deposit (slot l: lane l's). `operation` names the caller for a call outside a kernel,
// `name` for a partial mask. The slots are double-buffered by generation, so a lane that
// deposits for the next exchange cannot overwrite what a slower lane is still reading.
template <typename Read>
void exchange_in_warp(const char* operation, const char* name, unsigned mask, uint64_t value, const char* file,
                      int line, Read read) {
  Fiber& f = running_fiber(operation);
  Block& b = *f.block;
  if (mask != 0xffffffffu)
    b.fail(b.thread_name(f) + ": " + name + " with partial mask at " + file + ":" + std::to_string(line) +
           " (partial masks are not portable)");
  unsigned warp = f.tc.linear_id / 32, lane = f.tc.linear_id % 32;
  auto& slots = b.warp_slots[f.warp_generation % 2][warp];
  slots[lane] = value;
  yield(f, State::AtWarp, file, line);
  read(slots);
  ++f.warp_generation;
}
}  // namespace

uint64_t warp_exchange(unsigned mask, uint64_t value, int src_lane, const char* file, int line) {
  uint64_t result = 0;
  exchange_in_warp("a warp shuffle", "shuffle", mask, value, file, line,
                   [&](const auto& slots) { result = slots[unsigned(src_lane) % 32]; });
  return result;
}

void warp_all_gather(unsigned mask, uint64_t value, uint64_t (&all)[32], const char* file, int line) {
  exchange_in_warp("a warp matrix operation", "warp exchange", mask, value, file, line, [&](const auto& slots) {
    for (int l = 0; l < 32; ++l) all[l] = slots[size_t(l)];
  });
}

void launch_grid(const LaunchSite& site, const void* kernel, dim3 grid, dim3 block,
                 size_t shared_bytes, const std::function<void()>& body) {
  check_launch(site, kernel, grid, block, shared_bytes);
  std::unique_ptr<detail::LaunchObserver> observer =
      detail::observe_launch(site, kernel, grid, block, shared_bytes);
  uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  uint64_t simulated = g_block_sample > 0 && blocks > g_block_sample ? g_block_sample : blocks;
  size_t threads = size_t(block.x) * block.y * block.z;
  std::exception_ptr first_error;
  std::mutex error_mutex;
  int os_threads = g_os_threads > 0 ? g_os_threads : 0;
#pragma omp parallel num_threads(os_threads > 0 ? os_threads : omp_get_max_threads())
  {
    Block b;
    b.site = &site;
    b.body = &body;
    std::unique_ptr<detail::BlockObserver> block_observer;
    if (observer) block_observer = std::make_unique<detail::BlockObserver>(*observer);
    b.observer = block_observer.get();
    b.fibers.resize(threads);
    for (auto& slots : b.warp_slots) slots.resize((threads + 31) / 32);
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < int64_t(simulated); ++i) {
      int64_t linear = int64_t(sampled_block(uint64_t(i), blocks, simulated));
      {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (first_error) continue;  // stop early: the launch has already failed
      }
      // Uninitialised dynamic shared memory reads as NaN (all bits set), as a poison. An
      // observed launch has a red zone after it, for memcheck.
      t_dynamic_shared.assign(shared_bytes + (b.observer ? detail::kRedZone : 0), 0xFF);
      uint3 bidx{unsigned(linear % grid.x), unsigned(linear / grid.x % grid.y),
                 unsigned(linear / grid.x / grid.y)};
      for (size_t i = 0; i < threads; ++i) {
        Fiber& f = b.fibers[i];
        f = Fiber();
        f.block = &b;
        f.tc.thread_idx = {unsigned(i % block.x), unsigned(i / block.x % block.y),
                           unsigned(i / block.x / block.y)};
        f.tc.block_idx = bidx;
        f.tc.block_dim = block;
        f.tc.grid_dim = grid;
        f.tc.linear_id = unsigned(i);
        f.tc.dynamic_shared = t_dynamic_shared.data();
      }
      b.error = nullptr;
      t_block = &b;
      if (b.observer) b.observer->begin_block(uint64_t(linear), threads, t_dynamic_shared.data());
      detail::t_observer = b.observer;
      try {
        if (b.observer)
          run_block<true>(b, uint64_t(linear));
        else
          run_block<false>(b, uint64_t(linear));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
      }
      detail::t_observer = nullptr;
      t_block = nullptr;
      current = nullptr;
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  if (observer) observer->finish(simulated);
}

// Aligned to 256 bytes as cudaMalloc's, between red zones that belong to no allocation, so that
// memcheck can tell an access just outside one for certain (observe.h).
void* device_malloc(size_t bytes) {
  void* base = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 2 * detail::kRedZone);
  if (!base) throw std::bad_alloc();
  void* p = static_cast<char*>(base) + detail::kRedZone;
  {
    std::lock_guard<std::mutex> lock(g_memory_mutex);
    g_allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
    g_bytes_in_use += bytes;
  }
  detail::allocation_created(p, bytes);
  return p;
}

void device_free(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  auto it = g_allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == g_allocations.end())
    throw SimError("device_free of a pointer that device_malloc did not return");
  g_bytes_in_use -= it->second;
  g_allocations.erase(it);
  detail::allocation_freed(ptr);
  std::free(static_cast<char*>(ptr) - detail::kRedZone);
}

bool is_device_pointer(const void* ptr) {
  uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  auto it = g_allocations.upper_bound(p);
  if (it == g_allocations.begin()) return false;
  --it;
  return p < it->first + std::max<size_t>(it->second, 1);
}

size_t device_bytes_in_use() {
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  return g_bytes_in_use;
}

size_t detail::opted_in_dynamic_shared(const void* kernel) {
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  auto it = g_shared_opt_in.find(kernel);
  return it == g_shared_opt_in.end() ? 0 : it->second;
}

void detail::stop_running_thread() {
  Fiber& f = running_fiber("memcheck");
  yield(f, State::Stopped, f.file, f.line);
  __builtin_unreachable();  // a stopped thread is never resumed
}

void set_max_dynamic_shared(const void* kernel, size_t bytes) {
  if (bytes > kMaxOptInDynamicShared)
    throw SimError("cudaFuncSetAttribute: " + std::to_string(bytes) +
                   " bytes of dynamic shared memory, the device limit is " +
                   std::to_string(kMaxOptInDynamicShared));
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  g_shared_opt_in[kernel] = bytes;
}

}  // namespace nnlab::sim
