// The CUDA runtime calls the engine uses, mirrored over the simulator's device memory domain,
// so that the cuda backend's host code compiles and runs unchanged on the simulator. Streams
// and events keep their order trivially: every simulated launch completes before it returns.
// Copies check that device pointers are device memory and host pointers are not, so swapped
// directions are reported instead of silently working as they would on the host.
//
// Errors behave as the CUDA 13 runtime documents them (cuda_runtime_api.h, driver_types.h),
// because host code depends on it: a failing call returns its error and also records it as
// the calling thread's last error, which cudaGetLastError returns and resets and
// cudaPeekAtLastError returns and keeps. A launch reports a configuration the GPU refuses only
// there (cudaErrorInvalidConfiguration; cudaErrorInvalidValue for dynamic shared memory over
// the kernel's limit) and runs nothing. A kernel fault (cudaErrorIllegalAddress,
// cudaErrorAssert, cudaErrorLaunchFailure) is sticky: every later call returns it, and
// cudaGetLastError does not reset it. Device memory has a size when NNLAB_SIM_DEVICE_BYTES
// says so (bytes, or with a K, M or G suffix): cudaMalloc then fails with
// cudaErrorMemoryAllocation past it, and cudaMemGetInfo reports it; likewise page-locked host
// memory with NNLAB_SIM_PINNED_BYTES. Tests set both with the functions at the end, and can
// make any call fail once (inject_failure) and trace the calls made.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace nnlab::sim::runtime {

// The codes and their numbers as driver_types.h has them.
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalAddress = 700,  // sticky, as the three below it
  cudaErrorAssert = 710,
  cudaErrorLaunchFailure = 719
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct SimStream;
struct SimEvent;
using cudaStream_t = SimStream*;
using cudaEvent_t = SimEvent*;

cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);  // pinned memory: plain host memory here
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);  // host clock
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
// The simulated device's size when NNLAB_SIM_DEVICE_BYTES (or set_device_bytes) gives one,
// else the host's memory.
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
const char* cudaGetErrorString(cudaError_t error);
template <typename K>
cudaError_t cudaFuncSetAttribute(K* kernel, cudaFuncAttribute attr, int value);

// ---- the simulator's own, for NNLAB_LAUNCH and for tests (no CUDA counterpart) ----------

constexpr size_t kUnlimited = size_t(-1);
// The device's size in bytes (kUnlimited: the host's memory), overriding NNLAB_SIM_DEVICE_BYTES;
// likewise page-locked host memory over NNLAB_SIM_PINNED_BYTES.
void set_device_bytes(size_t bytes);
void set_pinned_bytes(size_t bytes);
// The next call named `call` after `skip` successful ones fails with `error`, once; a sticky
// error stays, as a kernel fault does. "launch" names kernel launches.
void inject_failure(const std::string& call, cudaError_t error, int skip = 0);
// Forgets a sticky error and any injection not yet spent. A real process would have to exit.
void reset_errors();
// Records the name of every runtime call and launch ("launch <kernel>") from now on, or stops.
void set_trace(bool on);
std::vector<std::string> take_trace();  // what was recorded since the last take, in order
// Runtime objects alive now: what a leak check compares before and after.
struct LiveObjects {
  size_t streams = 0, events = 0, pinned_buffers = 0;
  bool operator==(const LiveObjects& o) const {
    return streams == o.streams && events == o.events && pinned_buffers == o.pinned_buffers;
  }
};
LiveObjects live_objects();

namespace detail {
bool begin_launch(const char* kernel);  // false when the launch must not run (an error is set)
void record_launch_error(int error, const std::string& reason);
cudaError_t set_max_dynamic_shared(const void* kernel, int bytes);
}  // namespace detail

}  // namespace nnlab::sim::runtime

#include "nnlab/sim/sim.h"

namespace nnlab::sim::runtime {

// kernel<<<grid, block, shared_bytes>>>(args...): what NNLAB_LAUNCH expands to in the
// simulator. A configuration the GPU refuses runs nothing and leaves its error for
// cudaGetLastError; what only the simulator can see (divergent barriers, host pointers
// passed as arguments) is thrown as a SimError at once.
template <typename... P, typename... A>
void launch(const LaunchSite& site, dim3 grid, dim3 block, size_t shared_bytes,
            void (*kernel)(P...), A&&... args) {
  if (!detail::begin_launch(site.kernel)) return;
  try {
    sim::launch(site, grid, block, shared_bytes, kernel, std::forward<A>(args)...);
  } catch (const LaunchConfigError& e) {
    detail::record_launch_error(e.cuda_error, e.reason);
  }
}
// The check after a launch, as cudaGetLastError after kernel<<<...>>> on a GPU: throws a
// std::runtime_error naming the kernel, the launch site, the runtime's error string and, for
// a refused configuration, why.
void check_launch(const char* kernel, const char* file, int line);

template <typename K>
cudaError_t cudaFuncSetAttribute(K* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  return detail::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value);
}

}  // namespace nnlab::sim::runtime
