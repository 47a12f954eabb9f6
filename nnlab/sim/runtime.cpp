#include "nnlab/sim/runtime.h"

#include "nnlab/sim/observe.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <unistd.h>

namespace nnlab::sim::runtime {

struct SimStream {};
struct SimEvent {
  std::chrono::steady_clock::time_point when;
  bool recorded = false;
};

namespace {
struct Pointer {
  const void* p;
  bool device;  // expected side
  const char* role;
};
// Checks each pointer is on the side the copy kind says; a SimError names the mismatch.
void check_sides(const char* call, cudaMemcpyKind kind, const void* dst, const void* src) {
  bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault) return;  // direction inferred from the pointers, as with UVA
  for (Pointer x : {Pointer{dst, dst_device, "destination"}, Pointer{src, src_device, "source"}})
    if (is_device_pointer(x.p) != x.device)
      throw SimError(std::string(call) + ": the " + x.role + " is " + (x.device ? "not " : "") +
                     "device memory, but the copy kind says it is " +
                     (x.device ? "device" : "host") + " memory (swapped copy directions?)");
}

// "268435456", "256M": bytes, or KiB, MiB, GiB with a K, M or G suffix.
size_t bytes_from_env(const char* name) {
  const char* text = std::getenv(name);
  if (!text || !*text) return kUnlimited;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  int shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10;
  if (*end == 'M' || *end == 'm') shift = 20;
  if (*end == 'G' || *end == 'g') shift = 30;
  if (shift) ++end;
  if (end == text || *end != '\0' || !std::isdigit(static_cast<unsigned char>(text[0])) ||
      value > (kUnlimited >> shift))
    throw SimError(std::string(name) + "='" + text +
                   "': expected a number of bytes, such as 268435456 or 256M (suffixes K, M, G)");
  return size_t(value) << shift;
}

bool is_sticky(cudaError_t error) {
  return error == cudaErrorIllegalAddress || error == cudaErrorAssert ||
         error == cudaErrorLaunchFailure;
}

std::mutex g_mutex;  // guards everything below but the atomics and thread-locals
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local std::string t_refused_launch;  // why the last launch was refused, for check_launch
std::atomic<int> g_sticky{cudaSuccess};
struct Injection {
  cudaError_t error;
  int skip;
};
std::map<std::string, Injection> g_injections;
std::atomic<bool> g_tracing{false};
std::vector<std::string> g_trace;
std::set<const SimStream*> g_streams;
std::set<const SimEvent*> g_events;
std::map<const void*, size_t> g_pinned;  // page-locked buffers: start -> size
size_t g_pinned_in_use = 0;
bool g_limits_known = false;
size_t g_device_limit = kUnlimited, g_pinned_limit = kUnlimited;

void read_limits_once() {  // under g_mutex
  if (g_limits_known) return;
  g_device_limit = bytes_from_env("NNLAB_SIM_DEVICE_BYTES");
  g_pinned_limit = bytes_from_env("NNLAB_SIM_PINNED_BYTES");
  g_limits_known = true;
}

// A failed call: its error becomes the thread's last error, and a kernel fault sticks.
cudaError_t fail(cudaError_t error) {
  t_last_error = error;
  if (is_sticky(error)) g_sticky = error;
  return error;
}

// Every call but the error queries starts here: traced; failing with the sticky error or an
// injected one, else cudaSuccess.
cudaError_t enter(const std::string& call) {
  if (g_tracing) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_trace.push_back(call);
  }
  if (int sticky = g_sticky) return fail(cudaError_t(sticky));
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_injections.find(call.substr(0, call.find(' ')));
  if (it == g_injections.end()) return cudaSuccess;
  if (it->second.skip-- > 0) return cudaSuccess;
  cudaError_t error = it->second.error;
  g_injections.erase(it);
  return fail(error);
}

template <typename Handle>
bool known(const std::set<const Handle*>& handles, const Handle* h) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return handles.count(h) != 0;
}
}  // namespace

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = nullptr;
  if (cudaError_t e = enter("cudaMalloc")) return e;
  std::lock_guard<std::mutex> lock(g_mutex);  // the size check and the allocation together
  read_limits_once();
  size_t in_use = device_bytes_in_use();
  if (g_device_limit != kUnlimited && bytes > g_device_limit - std::min(in_use, g_device_limit))
    return fail(cudaErrorMemoryAllocation);
  try {
    *ptr = device_malloc(bytes);
  } catch (const std::bad_alloc&) {
    return fail(cudaErrorMemoryAllocation);
  }
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  if (cudaError_t e = enter("cudaFree")) return e;
  if (!ptr) return cudaSuccess;
  try {
    device_free(ptr);
  } catch (const SimError&) {  // not a pointer cudaMalloc returned, or freed already
    return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (cudaError_t e = enter("cudaMemcpy")) return e;
  check_sides("cudaMemcpy", kind, dst, src);
  if (bytes) std::memmove(dst, src, bytes);
  note_device_write(dst, bytes, is_device_pointer(src) ? src : nullptr);  // for initcheck
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  if (cudaError_t e = enter("cudaMemcpyAsync")) return e;
  check_sides("cudaMemcpyAsync", kind, dst, src);
  if (bytes) std::memmove(dst, src, bytes);
  note_device_write(dst, bytes, is_device_pointer(src) ? src : nullptr);  // for initcheck
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (cudaError_t e = enter("cudaMemset")) return e;
  if (!is_device_pointer(dst)) throw SimError("cudaMemset: the destination is not device memory");
  std::memset(dst, value, bytes);
  note_device_write(dst, bytes);  // for initcheck
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(dst, value, bytes);
}
cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  *ptr = nullptr;
  if (cudaError_t e = enter("cudaMallocHost")) return e;
  std::lock_guard<std::mutex> lock(g_mutex);
  read_limits_once();
  if (g_pinned_limit != kUnlimited &&
      bytes > g_pinned_limit - std::min(g_pinned_in_use, g_pinned_limit))
    return fail(cudaErrorMemoryAllocation);
  *ptr = std::malloc(bytes ? bytes : 1);
  if (!*ptr) return fail(cudaErrorMemoryAllocation);
  g_pinned[*ptr] = bytes;
  g_pinned_in_use += bytes;
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* ptr) {
  if (cudaError_t e = enter("cudaFreeHost")) return e;
  if (!ptr) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_pinned.find(ptr);
  if (it == g_pinned.end()) return fail(cudaErrorInvalidValue);  // not from cudaMallocHost
  g_pinned_in_use -= it->second;
  g_pinned.erase(it);
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  if (cudaError_t e = enter("cudaStreamCreate")) return e;
  *stream = new SimStream;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_streams.insert(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (cudaError_t e = enter("cudaStreamDestroy")) return e;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_streams.erase(stream)) return fail(cudaErrorInvalidResourceHandle);
  }
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (cudaError_t e = enter("cudaStreamSynchronize")) return e;
  if (stream && !known(g_streams, stream)) return fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  return enter("cudaDeviceSynchronize");
}
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (cudaError_t e = enter("cudaEventCreate")) return e;
  *event = new SimEvent;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_events.insert(*event);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (cudaError_t e = enter("cudaEventDestroy")) return e;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_events.erase(event)) return fail(cudaErrorInvalidResourceHandle);
  }
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (cudaError_t e = enter("cudaEventRecord")) return e;
  if (!known(g_events, event)) return fail(cudaErrorInvalidResourceHandle);
  event->when = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (cudaError_t e = enter("cudaEventSynchronize")) return e;
  if (!known(g_events, event)) return fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (cudaError_t e = enter("cudaEventElapsedTime")) return e;
  if (!known(g_events, start) || !known(g_events, end) || !start->recorded || !end->recorded)
    return fail(cudaErrorInvalidResourceHandle);  // as the runtime answers for unrecorded events
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
cudaError_t cudaGetLastError() {
  if (int sticky = g_sticky) return cudaError_t(sticky);  // never reset
  cudaError_t error = t_last_error;
  t_last_error = cudaSuccess;
  return error;
}
cudaError_t cudaPeekAtLastError() {
  if (int sticky = g_sticky) return cudaError_t(sticky);
  return t_last_error;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (cudaError_t e = enter("cudaMemGetInfo")) return e;
  std::lock_guard<std::mutex> lock(g_mutex);
  read_limits_once();
  if (g_device_limit != kUnlimited) {
    *total_bytes = g_device_limit;
    *free_bytes = g_device_limit - std::min(device_bytes_in_use(), g_device_limit);
    return cudaSuccess;
  }
  size_t page = size_t(sysconf(_SC_PAGESIZE));  // no size given: the host's memory
  *total_bytes = size_t(sysconf(_SC_PHYS_PAGES)) * page;
  *free_bytes = size_t(sysconf(_SC_AVPHYS_PAGES)) * page;
  return cudaSuccess;
}
const char* cudaGetErrorString(cudaError_t error) {  // the runtime's own strings
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorIllegalAddress:
      return "an illegal memory access was encountered";
    case cudaErrorAssert:
      return "device-side assert triggered";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
  }
  return "unrecognized error code";
}

void check_launch(const char* kernel, const char* file, int line) {
  std::string refused = std::move(t_refused_launch);
  t_refused_launch.clear();
  cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess)
    throw std::runtime_error(std::string("launch of kernel ") + kernel + " at " + file + ":" +
                             std::to_string(line) + " failed: " + cudaGetErrorString(error) +
                             (refused.empty() ? "" : " (" + refused + ")"));
}

void set_device_bytes(size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mutex);
  read_limits_once();
  g_device_limit = bytes;
}
void set_pinned_bytes(size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mutex);
  read_limits_once();
  g_pinned_limit = bytes;
}
void inject_failure(const std::string& call, cudaError_t error, int skip) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_injections[call] = {error, skip};
}
void reset_errors() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sticky = cudaSuccess;
  g_injections.clear();
  t_last_error = cudaSuccess;
  t_refused_launch.clear();
}
void set_trace(bool on) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_tracing = on;
}
std::vector<std::string> take_trace() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return std::exchange(g_trace, {});
}
LiveObjects live_objects() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return {g_streams.size(), g_events.size(), g_pinned.size()};
}

namespace detail {
bool begin_launch(const char* kernel) {
  t_refused_launch.clear();
  return enter(std::string("launch ") + kernel) == cudaSuccess;
}
void record_launch_error(int error, const std::string& reason) {
  t_refused_launch = reason;
  fail(cudaError_t(error));
}
cudaError_t set_max_dynamic_shared(const void* kernel, int bytes) {
  if (cudaError_t e = enter("cudaFuncSetAttribute")) return e;
  if (bytes < 0 || size_t(bytes) > kMaxOptInDynamicShared)
    return fail(cudaErrorInvalidValue);  // over the device's opt-in limit, as on a GPU
  sim::set_max_dynamic_shared(kernel, size_t(bytes));
  return cudaSuccess;
}
}  // namespace detail

}  // namespace nnlab::sim::runtime
