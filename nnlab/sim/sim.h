// The CPU simulator of the CUDA execution model. Kernel sources written against
// nnlab/backends/cuda/portable.h compile as plain C++ with this header: each block runs on one OS thread
// (blocks spread over OpenMP threads), each CUDA thread of the block is a fiber that runs
// until a barrier, a warp shuffle, or its end. The scheduler releases a barrier when every
// thread of the block waits at it, and a warp operation when all 32 lanes have reached it,
// so shuffles keep lockstep semantics. It rejects what a GPU rejects (oversized blocks,
// too much shared memory) and reports what a GPU would hang on or silently get wrong
// (divergent barriers, barriers after an early return, shuffles with missing lanes, host
// pointers passed to kernels) with the kernel, the launch site and the thread.
//
// A schedule decides the order in which ready threads run between two barriers: FIFO,
// reversed, or a seeded random order per block and phase. A missing __syncthreads shows up
// as a result that depends on the schedule; tests run every kernel under all three.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

namespace nnlab::sim {

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};

// A simulated launch or kernel went wrong; the message names the kernel, the launch site and,
// where it applies, the block and thread.
struct SimError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A launch configuration the GPU refuses: nothing ran. `cuda_error` is the code the CUDA
// runtime reports for it (nnlab/sim/runtime.h turns it into cudaGetLastError's answer).
struct LaunchConfigError : SimError {
  LaunchConfigError(int error, const std::string& where, const std::string& why)
      : SimError(where + ": " + why), cuda_error(error), reason(why) {}
  int cuda_error;
  std::string reason;
};

// What one simulated thread sees through threadIdx, blockIdx, blockDim, gridDim.
struct ThreadContext {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
  unsigned linear_id;    // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
  void* dynamic_shared;  // this block's dynamic shared memory
};
extern thread_local ThreadContext* current;

enum class Schedule { Fifo, Reverse, Random };
void set_schedule(Schedule schedule, uint64_t seed = 0);
Schedule schedule();
// Strict (the default): a __syncthreads that some threads of the block never reach because
// they returned early is an error. Lax: exited threads count as arrived, as most GPUs do.
void set_strict_barriers(bool strict);
void set_threads(int os_threads);  // OS threads running blocks (0: OpenMP's default)
// Runs at most `max_blocks` blocks of each launch (0: every block), spread evenly over the
// grid, for launches too large to simulate whole: a sample's counters, scaled by the blocks
// left out, stand for the whole launch's when the blocks do the same work (kernel_lab; the
// tests show it at sizes where both run). The blocks left out do not run: their outputs stay
// unwritten, so nothing that needs a kernel's results may run under a sample.
void set_block_sample(uint64_t max_blocks);
uint64_t block_sample();
// The i-th block (linear index) a launch of `blocks` blocks runs when it runs `simulated`.
inline uint64_t sampled_block(uint64_t i, uint64_t blocks, uint64_t simulated) {
  return simulated >= blocks ? i : i * blocks / simulated;
}

// Device limits checked at launch (those of compute capability 7.5 to 9.0).
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kMaxGridDim[3] = {2147483647u, 65535, 65535};
constexpr size_t kDefaultDynamicShared = 48 * 1024;    // without opt-in
constexpr size_t kMaxOptInDynamicShared = 227 * 1024;  // H100, with cudaFuncSetAttribute

// Device-side operations (called through the macros of nnlab/backends/cuda/portable.h).
void syncthreads(const char* file, int line);
void syncwarp(const char* file, int line, unsigned mask = 0xffffffffu);
// __syncwarp() and __syncwarp(mask) with the caller's source line, in strict C++17 macros.
struct WarpSyncSite {
  const char* file;
  int line;
  void operator()(unsigned mask = 0xffffffffu) const { syncwarp(file, line, mask); }
};
// An atomic of the observed build, recorded at the caller's code address (nnlab/backends/cuda/portable.h).
void observe_atomic(const void* address, size_t bytes);
// Deposits `value` for this lane, waits for the whole warp, returns lane `src_lane`'s value.
uint64_t warp_exchange(unsigned mask, uint64_t value, int src_lane, const char* file, int line);
// The same exchange, returning every lane's value (all[l] is lane l's): one rendezvous where
// 32 shuffles would take 32 (the warp matrix operations gather whole tiles this way).
void warp_all_gather(unsigned mask, uint64_t value, uint64_t (&all)[32], const char* file, int line);
unsigned lane_id();

// Simulator code that kernels call inline but that is no instruction of theirs: the observed
// build (observe.h) counts a kernel's instructions per basic block, and GCC keeps functions
// marked so out of line there, so their blocks are not counted (a shuffle is counted as one
// warp operation instead).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define NNLAB_SIM_UNCOUNTED __attribute__((no_sanitize_coverage))
#else
#define NNLAB_SIM_UNCOUNTED
#endif

template <typename T>
NNLAB_SIM_UNCOUNTED T shuffle(unsigned mask, T value, int src_lane, const char* file, int line) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffles move up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_exchange(mask, bits, src_lane, file, line);
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// CUDA's shuffle variants, lane arithmetic within segments of `width` lanes; a source outside
// the segment returns the caller's own value, as on the GPU.
template <typename T>
NNLAB_SIM_UNCOUNTED T shfl(const char* f, int l, unsigned mask, T v, int src, int width = 32) {
  int lane = int(lane_id()), base = lane & ~(width - 1);
  return shuffle(mask, v, base + (src & (width - 1)), f, l);
}
template <typename T>
NNLAB_SIM_UNCOUNTED T shfl_down(const char* f, int l, unsigned mask, T v, unsigned delta, int width = 32) {
  int lane = int(lane_id()), base = lane & ~(width - 1), src = lane + int(delta);
  return shuffle(mask, v, src < base + width ? src : lane, f, l);
}
template <typename T>
NNLAB_SIM_UNCOUNTED T shfl_up(const char* f, int l, unsigned mask, T v, unsigned delta, int width = 32) {
  int lane = int(lane_id()), base = lane & ~(width - 1), src = lane - int(delta);
  return shuffle(mask, v, src >= base ? src : lane, f, l);
}
template <typename T>
NNLAB_SIM_UNCOUNTED T shfl_xor(const char* f, int l, unsigned mask, T v, int lane_mask, int width = 32) {
  int lane = int(lane_id()), src = lane ^ lane_mask;
  return shuffle(mask, v, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane, f, l);
}

// The device memory domain: allocations known to the simulator, so that copies and kernel
// arguments can be checked like a GPU's address spaces.
void* device_malloc(size_t bytes);
void device_free(void* ptr);
bool is_device_pointer(const void* ptr);
size_t device_bytes_in_use();
// A kernel of the plain build may write through this pointer unseen: initcheck (observe.h)
// stops judging the allocation. Costs an atomic load unless initcheck tracks allocations.
void note_unobserved_argument(const void* ptr);

// Per-kernel opt-in for more dynamic shared memory than kDefaultDynamicShared.
void set_max_dynamic_shared(const void* kernel, size_t bytes);

struct LaunchSite {
  const char* kernel;
  const char* file;
  int line;
  bool observed = false;  // launched by the observed build of the kernels (nnlab/sim/observe.h)
};

// Runs body() once per thread of every block.
void launch_grid(const LaunchSite& site, const void* kernel, dim3 grid, dim3 block,
                 size_t shared_bytes, const std::function<void()>& body);

template <typename Param>
void check_argument(const LaunchSite& site, size_t index, const Param& p) {
  if constexpr (std::is_pointer_v<Param>) {
    if (p != nullptr && !is_device_pointer(p))
      throw SimError(std::string("kernel ") + site.kernel + " launched at " + site.file + ":" +
                     std::to_string(site.line) + ": argument " + std::to_string(index) +
                     " is not device memory (a host pointer passed to a kernel?)");
    if (p != nullptr && !site.observed) note_unobserved_argument(p);
  }
}

template <typename... P, typename... A>
void launch(const LaunchSite& site, dim3 grid, dim3 block, size_t shared_bytes,
            void (*kernel)(P...), A&&... args) {
  std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  std::apply(
      [&](const auto&... p) {
        size_t i = 0;
        (check_argument(site, i++, p), ...);
      },
      params);
  launch_grid(site, reinterpret_cast<const void*>(kernel), grid, block, shared_bytes,
              [&] { std::apply(kernel, params); });
}

}  // namespace nnlab::sim
