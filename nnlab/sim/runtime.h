// The CUDA runtime calls the engine uses, mirrored over the simulator's device memory domain,
// so that the cuda backend's host code compiles and runs unchanged on the simulator. Streams
// and events keep their order trivially: every simulated launch completes before it returns.
// Copies check that device pointers are device memory and host pointers are not, so swapped
// directions are reported instead of silently working as they would on the host.
#pragma once
#include <cstddef>

namespace nnlab::sim::runtime {

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
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
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);  // the host's memory
const char* cudaGetErrorString(cudaError_t error);
template <typename K>
cudaError_t cudaFuncSetAttribute(K* kernel, cudaFuncAttribute attr, int value);

}  // namespace nnlab::sim::runtime

#include "nnlab/sim/sim.h"

template <typename K>
nnlab::sim::runtime::cudaError_t nnlab::sim::runtime::cudaFuncSetAttribute(K* kernel,
                                                                           cudaFuncAttribute attr,
                                                                           int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize)
    nnlab::sim::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), size_t(value));
  return cudaSuccess;
}
