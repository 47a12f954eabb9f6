// Small kernels that exercise one feature of the execution model each, for the simulator's
// semantic tests; they also compile with nvcc, so they stay within the portable subset.
#include "nnlab/backends/cuda/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "tests/sim_kernels.h"

namespace {
__global__ void reverse_kernel(const float* in, float* out) {
  __shared__ float s[1024];
  int t = int(threadIdx.x), g = int(blockIdx.x * blockDim.x) + t;
  s[t] = in[g];
  __syncthreads();
  out[g] = s[int(blockDim.x) - 1 - t];
}

__global__ void shift_synced_kernel(const float* in, float* out) {
  __shared__ float s[1024];
  int t = int(threadIdx.x), g = int(blockIdx.x * blockDim.x) + t;
  s[t] = in[g];
  __syncthreads();
  out[g] = s[t > 0 ? t - 1 : 0];
}

__global__ void shift_racy_kernel(const float* in, float* out) {
  __shared__ float s[1024];
  int t = int(threadIdx.x), g = int(blockIdx.x * blockDim.x) + t;
  s[t] = in[g];
  // BUG (planted): a __syncthreads() is missing; thread t reads thread t-1's write.
  out[g] = s[t > 0 ? t - 1 : 0];
}

__global__ void block_id_kernel(int* out) {
  __shared__ int id;
  if (threadIdx.x == 0) id = int(blockIdx.x);
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = id;
}

__global__ void shuffle_kernel(const int* in, int* out) {
  int lane = int(threadIdx.x), v = in[lane];
  unsigned full = 0xffffffffu;
  out[0 * 32 + lane] = __shfl_sync(full, v, 3);
  out[1 * 32 + lane] = __shfl_down_sync(full, v, 1);
  out[2 * 32 + lane] = __shfl_xor_sync(full, v, 5);
  out[3 * 32 + lane] = __shfl_up_sync(full, v, 2);
  out[4 * 32 + lane] = __shfl_sync(full, v, lane + 1, 8);  // rotate within groups of 8
}

__global__ void atomics_kernel(int* counter, float* fsum, int* imax, float* fmax, const float* values) {
  int g = int(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(counter, 1);
  atomicAdd(fsum, 1.0f);
  atomicMax(imax, g);
  atomicMax(fmax, values[g]);
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void barrier_after_return_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void warp_op_vs_barrier_kernel(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  else __syncwarp();
  out[threadIdx.x] = 1;
}

__global__ void partial_mask_kernel(int* out) { out[threadIdx.x] = __shfl_sync(0x0000ffffu, int(threadIdx.x), 0); }

__global__ void shuffle_after_exit_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, int(threadIdx.x), 0);
}

__global__ void read_dynamic_kernel(float* out) {
  NNLAB_DYNAMIC_SHARED(float, s);
  out[threadIdx.x] = s[threadIdx.x];  // never written: what uninitialised memory holds
}

__global__ void empty_kernel(int) {}
__global__ void write_one_kernel(float* p) { *p = 1.0f; }

template <typename T>
__global__ void half_arithmetic_kernel(const T* a, const T* b, T* out, int n) {
  int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  out[i] = __hadd(a[i], b[i]);
  out[n + i] = __hsub(a[i], b[i]);
  out[2 * n + i] = __hmul(a[i], b[i]);
}

// cuda_bf16.h declares __hfma on bfloat16 from sm_80 only (the build also targets sm_75).
__global__ void half_fma_kernel(const __half* a, const __half* b, const __half* c, __half* out, int n) {
  int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = __hfma(a[i], b[i], c[i]);
}
}  // namespace

void reverse_in_block(const float* in, float* out, int blocks, int threads) {
  NNLAB_LAUNCH(reverse_kernel, dim3(unsigned(blocks)), dim3(unsigned(threads)), 0, in, out);
}
void shift_synced(const float* in, float* out, int blocks, int threads) {
  NNLAB_LAUNCH(shift_synced_kernel, dim3(unsigned(blocks)), dim3(unsigned(threads)), 0, in, out);
}
void shift_racy(const float* in, float* out, int blocks, int threads) {
  NNLAB_LAUNCH(shift_racy_kernel, dim3(unsigned(blocks)), dim3(unsigned(threads)), 0, in, out);
}
void block_id_in_shared(int* out, int blocks, int threads) {
  NNLAB_LAUNCH(block_id_kernel, dim3(unsigned(blocks)), dim3(unsigned(threads)), 0, out);
}
void shuffle_ops(const int* in, int* out) { NNLAB_LAUNCH(shuffle_kernel, dim3(1), dim3(32), 0, in, out); }
void atomics(int* counter, float* fsum, int* imax, float* fmax, const float* values, int blocks, int threads) {
  NNLAB_LAUNCH(atomics_kernel, dim3(unsigned(blocks)), dim3(unsigned(threads)), 0, counter, fsum, imax, fmax, values);
}
void divergent_barrier(int* out) { NNLAB_LAUNCH(divergent_barrier_kernel, dim3(1), dim3(64), 0, out); }
void barrier_after_return(int* out) { NNLAB_LAUNCH(barrier_after_return_kernel, dim3(1), dim3(32), 0, out); }
void warp_op_vs_barrier(int* out) { NNLAB_LAUNCH(warp_op_vs_barrier_kernel, dim3(1), dim3(32), 0, out); }
void shuffle_partial_mask(int* out) { NNLAB_LAUNCH(partial_mask_kernel, dim3(1), dim3(32), 0, out); }
void shuffle_after_exit(int* out) { NNLAB_LAUNCH(shuffle_after_exit_kernel, dim3(1), dim3(32), 0, out); }
void read_dynamic_shared(float* out, int threads, size_t bytes, bool opt_in) {
  if (opt_in) cudaFuncSetAttribute(read_dynamic_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  NNLAB_LAUNCH(read_dynamic_kernel, dim3(1), dim3(unsigned(threads)), bytes, out);
}
void empty_kernel_with_block(int x, int y, int z) {
  NNLAB_LAUNCH(empty_kernel, dim3(1), dim3(unsigned(x), unsigned(y), unsigned(z)), 0, 0);
}
void write_one(float* p) { NNLAB_LAUNCH(write_one_kernel, dim3(1), dim3(1), 0, p); }
void half_arithmetic(const uint16_t* a, const uint16_t* b, const uint16_t* c, uint16_t* out, int n,
                     bool bfloat16) {
  dim3 grid(unsigned((n + 255) / 256)), block(256);
  if (bfloat16) {
    NNLAB_LAUNCH(half_arithmetic_kernel<__nv_bfloat16>, grid, block, 0,
                 reinterpret_cast<const __nv_bfloat16*>(a), reinterpret_cast<const __nv_bfloat16*>(b),
                 reinterpret_cast<__nv_bfloat16*>(out), n);
    return;
  }
  NNLAB_LAUNCH(half_arithmetic_kernel<__half>, grid, block, 0, reinterpret_cast<const __half*>(a),
               reinterpret_cast<const __half*>(b), reinterpret_cast<__half*>(out), n);
  NNLAB_LAUNCH(half_fma_kernel, grid, block, 0, reinterpret_cast<const __half*>(a),
               reinterpret_cast<const __half*>(b), reinterpret_cast<const __half*>(c),
               reinterpret_cast<__half*>(out) + 3 * n, n);
}
void empty_kernel_with_grid(unsigned x, unsigned y, unsigned z) {
  NNLAB_LAUNCH(empty_kernel, dim3(x, y, z), dim3(32), 0, 0);
}

}  // namespace nnlab::NNLAB_KERNELS
