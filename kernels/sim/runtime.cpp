#include "kernels/sim/runtime.h"

#include "kernels/sim/observe.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace nnlab::sim::runtime {
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
}  // namespace

struct SimStream {};
struct SimEvent {
  std::chrono::steady_clock::time_point when;
};

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = device_malloc(bytes);
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  device_free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  check_sides("cudaMemcpy", kind, dst, src);
  if (bytes) std::memmove(dst, src, bytes);
  note_device_write(dst, bytes, is_device_pointer(src) ? src : nullptr);  // for initcheck
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  check_sides("cudaMemcpyAsync", kind, dst, src);
  if (bytes) std::memmove(dst, src, bytes);
  note_device_write(dst, bytes, is_device_pointer(src) ? src : nullptr);  // for initcheck
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (!is_device_pointer(dst)) throw SimError("cudaMemset: the destination is not device memory");
  std::memset(dst, value, bytes);
  note_device_write(dst, bytes);  // for initcheck
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(dst, value, bytes);
}
cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  *ptr = std::malloc(bytes ? bytes : 1);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = new SimStream;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new SimEvent;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->when = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
cudaError_t cudaGetLastError() {  // simulator errors are thrown at once
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {  // the host's memory
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  *total_bytes = size_t(sysconf(_SC_PHYS_PAGES)) * page;
  *free_bytes = size_t(sysconf(_SC_AVPHYS_PAGES)) * page;
  return cudaSuccess;
}
const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
  }
  return "unknown error";
}

}  // namespace nnlab::sim::runtime
