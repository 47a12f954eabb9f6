// The header every kernel source (nnlab/backends/cuda/*.cu) includes first. The same source compiles two
// ways: with nvcc for GPUs, and as host C++ (NNLAB_SIM defined) for the simulator in
// nnlab/sim/, each build in its own namespace (NNLAB_KERNELS), so one binary holds both. The
// simulator's build comes twice: plain (nnlab::cuda_sim) and, with NNLAB_SIM_OBSERVED, with
// every memory access observed (nnlab::cuda_sim_observed; see nnlab/sim/observe.h).
//
// Kernels stay within the portable subset (see nnlab/sim/README.md): threadIdx, blockIdx,
// blockDim, gridDim; static __shared__ arrays and NNLAB_DYNAMIC_SHARED; __syncthreads;
// full-warp shuffles and __syncwarp; atomicAdd/atomicMax/atomicCAS; standard float math.
// Launch every kernel with NNLAB_LAUNCH(kernel, grid, block, shared_bytes, args...): it
// launches on the current stream and reports a failed launch with the kernel's name and the
// caller's file and line. A template kernel whose arguments hold a comma needs an alias.
#pragma once
#include <cstdint>

#include "nnlab/backends/cuda/api.h"

#ifndef NNLAB_SIM  // ---------------------------------------------------------------- nvcc
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <stdexcept>
#include <string>

#define NNLAB_KERNELS cuda

namespace nnlab::cuda {
namespace wmma = ::nvcuda::wmma;  // the warp matrix API, as nnlab/sim/wmma.h in the simulator
// Throws std::runtime_error naming the kernel and the launch site when the launch failed.
inline void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("launch of kernel ") + kernel + " at " + file + ":" +
                             std::to_string(line) + " failed: " + cudaGetErrorString(err));
}
// Blocks of `threads` threads covering n elements, one thread each (the last block partly).
inline dim3 blocks_for(int64_t n, int threads) { return dim3(unsigned((n + threads - 1) / threads)); }
inline cudaStream_t& current_stream() {
  static cudaStream_t stream = nullptr;  // the backend sets its one compute stream
  return stream;
}
// atomicMax on float, which CUDA lacks: a compare-and-swap loop on the bit pattern. The
// using-declaration keeps CUDA's integer overloads visible beside it.
using ::atomicMax;
__device__ inline float atomicMax(float* address, float value) {
  int* bits = reinterpret_cast<int*>(address);
  int old = *bits;
  while (__int_as_float(old) < value) {
    int assumed = old;
    old = atomicCAS(bits, assumed, __float_as_int(value));
    if (old == assumed) break;
  }
  return __int_as_float(old);
}
}  // namespace nnlab::cuda

#define NNLAB_DYNAMIC_SHARED(type, name)                                  \
  extern __shared__ __align__(16) unsigned char nnlab_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(nnlab_dynamic_shared_)
#define NNLAB_LAUNCH(kernel, grid, block, shared_bytes, ...)                                      \
  do {                                                                                            \
    kernel<<<(grid), (block), (shared_bytes), ::nnlab::cuda::current_stream()>>>(__VA_ARGS__); \
    ::nnlab::cuda::check_launch(#kernel, __FILE__, __LINE__);                             \
  } while (0)

#else  // ----------------------------------------------------------------------- simulator
#include <cstring>
#include <cmath>

#include "nnlab/sim/half.h"
#include "nnlab/sim/runtime.h"
#include "nnlab/sim/sim.h"
#include "nnlab/sim/wmma.h"

#ifdef NNLAB_SIM_OBSERVED
#define NNLAB_KERNELS cuda_sim_observed
#define NNLAB_SIM_OBSERVED_LAUNCH true
#else
#define NNLAB_KERNELS cuda_sim
#define NNLAB_SIM_OBSERVED_LAUNCH false
#endif
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)  // a register-allocation hint for nvcc; nothing to simulate
// One block runs on an OS thread at a time, so a thread_local is the block's shared memory.
// It keeps its contents from block to block, as a GPU's may: tests need non-uniform data.
#define __shared__ static thread_local
#define threadIdx (::nnlab::sim::current->thread_idx)
#define blockIdx (::nnlab::sim::current->block_idx)
#define blockDim (::nnlab::sim::current->block_dim)
#define gridDim (::nnlab::sim::current->grid_dim)
#define __syncthreads() ::nnlab::sim::syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) ::nnlab::sim::WarpSyncSite{__FILE__, __LINE__}(__VA_ARGS__)
#define __shfl_sync(...) ::nnlab::sim::shfl(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) ::nnlab::sim::shfl_down(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) ::nnlab::sim::shfl_up(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) ::nnlab::sim::shfl_xor(__FILE__, __LINE__, __VA_ARGS__)
#define NNLAB_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::nnlab::sim::current->dynamic_shared)
// As on a GPU: the launch, then cudaGetLastError (a refused configuration is reported there).
#define NNLAB_LAUNCH(kernel, grid, block, shared_bytes, ...)                                          \
  do {                                                                                                \
    ::nnlab::sim::runtime::launch({#kernel, __FILE__, __LINE__, NNLAB_SIM_OBSERVED_LAUNCH}, (grid),   \
                                  (block), (shared_bytes), kernel, __VA_ARGS__);                      \
    ::nnlab::sim::runtime::check_launch(#kernel, __FILE__, __LINE__);                                 \
  } while (0)

namespace nnlab::NNLAB_KERNELS {
using ::nnlab::sim::dim3;
using namespace ::nnlab::sim::runtime;
// cuda_fp16.h's and cuda_bf16.h's types and intrinsics, bit-exact (nnlab/sim/half.h).
using ::nnlab::sim::__half;
using ::nnlab::sim::__nv_bfloat16;
using ::nnlab::sim::__half2;
using ::nnlab::sim::__nv_bfloat162;
using ::nnlab::sim::float2;
using ::nnlab::sim::__half22float2;
using ::nnlab::sim::__floats2half2_rn;
using ::nnlab::sim::__bfloat1622float2;
using ::nnlab::sim::__floats2bfloat162_rn;
using ::nnlab::sim::__half2float;
using ::nnlab::sim::__float2half_rn;
using ::nnlab::sim::__float2half;
using ::nnlab::sim::__bfloat162float;
using ::nnlab::sim::__float2bfloat16_rn;
using ::nnlab::sim::__float2bfloat16;
using ::nnlab::sim::__hadd;
using ::nnlab::sim::__hsub;
using ::nnlab::sim::__hmul;
using ::nnlab::sim::__hfma;
namespace wmma = ::nnlab::sim::wmma;  // mma.h's nvcuda::wmma, 16x16x16 with __half (nnlab/sim/wmma.h)

// Blocks run concurrently on OS threads: atomics are real atomics on the host, a
// compare-and-swap loop (GCC's generic __atomic builtins take float as well as int). In the
// observed build the loop itself is not instrumented (its retries depend on the timing of OS
// threads); each atomic is recorded once, at the kernel's own source line.
#ifdef NNLAB_SIM_OBSERVED
#define NNLAB_SIM_ATOMIC(address) ::nnlab::sim::observe_atomic(address, sizeof(*(address)))
#define NNLAB_SIM_ATOMIC_INLINE __attribute__((always_inline)) inline
#define NNLAB_SIM_UNOBSERVED __attribute__((no_sanitize_thread)) NNLAB_SIM_UNCOUNTED
#else
#define NNLAB_SIM_ATOMIC(address) (void)0
#define NNLAB_SIM_ATOMIC_INLINE inline
#define NNLAB_SIM_UNOBSERVED
#endif
template <typename T, typename F> NNLAB_SIM_UNOBSERVED T atomic_update(T* address, F next) {
  T old, desired;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  do {
    desired = next(old);
  } while (!__atomic_compare_exchange(address, &old, &desired, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  return old;
}
template <typename T> NNLAB_SIM_ATOMIC_INLINE T atomicAdd(T* address, T value) {
  NNLAB_SIM_ATOMIC(address);
  return atomic_update(address, [value](T old) { return T(old + value); });
}
template <typename T> NNLAB_SIM_ATOMIC_INLINE T atomicMax(T* address, T value) {
  NNLAB_SIM_ATOMIC(address);
  return atomic_update(address, [value](T old) { return old < value ? value : old; });
}
template <typename T> NNLAB_SIM_UNOBSERVED T atomic_compare_and_swap(T* address, T compare, T value) {
  __atomic_compare_exchange(address, &compare, &value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // the old value, as CUDA returns it
}
template <typename T> NNLAB_SIM_ATOMIC_INLINE T atomicCAS(T* address, T compare, T value) {
  NNLAB_SIM_ATOMIC(address);
  return atomic_compare_and_swap(address, compare, value);
}
// Blocks of `threads` threads covering n elements, one thread each (the last block partly).
inline dim3 blocks_for(int64_t n, int threads) { return dim3(unsigned((n + threads - 1) / threads)); }
// CUDA's 16-byte vector type: alignas makes UBSan (scripts/sanitize undefined) report a
// misaligned float4 access, which a GPU would fault on.
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
using std::isfinite;
inline float __fdividef(float a, float b) { return a / b; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
// glibc declares __expf, __logf and __powf itself: they are used as they are.
}  // namespace nnlab::NNLAB_KERNELS
#endif

namespace nnlab::NNLAB_KERNELS {
// The 16-bit storage types' conversions under one name each, for kernels templated on them:
// widen() is exact, narrow<T>() rounds to nearest even; on float both are the identity, so a
// kernel templated on its storage type serves float32 too.
__device__ __forceinline__ float widen(float f) { return f; }
__device__ __forceinline__ float widen(__half h) { return __half2float(h); }
__device__ __forceinline__ float widen(__nv_bfloat16 h) { return __bfloat162float(h); }
template <typename T>
__device__ __forceinline__ T narrow(float f);
template <>
__device__ __forceinline__ float narrow<float>(float f) { return f; }
template <>
__device__ __forceinline__ __half narrow<__half>(float f) { return __float2half_rn(f); }
template <>
__device__ __forceinline__ __nv_bfloat16 narrow<__nv_bfloat16>(float f) { return __float2bfloat16_rn(f); }

// Two 16-bit values in one 32-bit word (Pair<T>), for kernels bound by memory: a warp's
// access then moves 128 bytes instead of 64. Each value converts as widen() and narrow().
template <typename T>
struct PairOf;
template <>
struct PairOf<__half> {
  using type = __half2;
};
template <>
struct PairOf<__nv_bfloat16> {
  using type = __nv_bfloat162;
};
template <typename T>
using Pair = typename PairOf<T>::type;
__device__ __forceinline__ float2 widen(__half2 h) { return __half22float2(h); }
__device__ __forceinline__ float2 widen(__nv_bfloat162 h) { return __bfloat1622float2(h); }
template <typename T>
__device__ __forceinline__ Pair<T> narrow_pair(float a, float b);
template <>
__device__ __forceinline__ __half2 narrow_pair<__half>(float a, float b) { return __floats2half2_rn(a, b); }
template <>
__device__ __forceinline__ __nv_bfloat162 narrow_pair<__nv_bfloat16>(float a, float b) {
  return __floats2bfloat162_rn(a, b);
}

// Host code launching a kernel templated on its storage type: calls body(T{}) with T the
// type `kind` names (__half or __nv_bfloat16); as<T>() reads a 16-bit tensor's bits as T.
template <typename F>
void with_storage(Float16Kind kind, F&& body) {
  if (kind == Float16Kind::Half)
    body(__half{});
  else
    body(__nv_bfloat16{});
}
template <typename T>
const T* as(const uint16_t* bits) { return reinterpret_cast<const T*>(bits); }
template <typename T>
T* as(uint16_t* bits) { return reinterpret_cast<T*>(bits); }
}  // namespace nnlab::NNLAB_KERNELS
