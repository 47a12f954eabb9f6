// The seven steps of M. Harris, "Optimizing Parallel Reduction in CUDA" (NVIDIA, 2007), summing
// 32-bit integers. The kernels follow the slides and the CUDA samples' reduction (reduce0 to
// reduce6), 128 threads a block as the slides' table, and the warp-synchronous steps use
// __syncwarp between the reads and writes of the last warp: since Volta a warp's lanes are not
// in lockstep, so the slides' `volatile` alone no longer makes them correct.
//
//   1  interleaved addressing, `tid % (2 * s)`: divergent warps, and a modulo in every step
//   2  interleaved addressing with a strided index: no divergence, but bank conflicts
//   3  sequential addressing: conflict-free
//   4  first add during the global load: half the blocks, no thread idle in the first step
//   5  the last warp unrolled: no __syncthreads and no loop for the last six steps
//   6  completely unrolled: the block size is a template argument
//   7  several elements per thread: at most 64 blocks, each thread sums a grid-stride loop
#include "nnlab/backends/cuda/portable.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "lab/api.h"

namespace nnlab::NNLAB_KERNELS::lab {
namespace {
constexpr unsigned kThreads = 128;         // "block size = 128 threads for all tests" (the slides)
constexpr unsigned kMaxBlocksStep7 = 64;  // the CUDA samples' maxBlocks for the last kernel

__global__ void reduce_interleaved_divergent(const int* in, int* out, unsigned n) {
  __shared__ int sdata[kThreads];
  unsigned tid = threadIdx.x, i = blockIdx.x * blockDim.x + threadIdx.x;
  sdata[tid] = i < n ? in[i] : 0;
  __syncthreads();
  for (unsigned s = 1; s < blockDim.x; s *= 2) {
    if (tid % (2 * s) == 0) sdata[tid] += sdata[tid + s];
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = sdata[0];
}

__global__ void reduce_interleaved_strided(const int* in, int* out, unsigned n) {
  __shared__ int sdata[kThreads];
  unsigned tid = threadIdx.x, i = blockIdx.x * blockDim.x + threadIdx.x;
  sdata[tid] = i < n ? in[i] : 0;
  __syncthreads();
  for (unsigned s = 1; s < blockDim.x; s *= 2) {
    unsigned index = 2 * s * tid;
    if (index < blockDim.x) sdata[index] += sdata[index + s];
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = sdata[0];
}

__global__ void reduce_sequential(const int* in, int* out, unsigned n) {
  __shared__ int sdata[kThreads];
  unsigned tid = threadIdx.x, i = blockIdx.x * blockDim.x + threadIdx.x;
  sdata[tid] = i < n ? in[i] : 0;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) sdata[tid] += sdata[tid + s];
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = sdata[0];
}

// Each block sums 2 * blockDim.x elements: the first addition happens on the way in.
__device__ int first_add(const int* in, unsigned n) {
  unsigned i = blockIdx.x * (blockDim.x * 2) + threadIdx.x;
  int sum = i < n ? in[i] : 0;
  if (i + blockDim.x < n) sum += in[i + blockDim.x];
  return sum;
}

__global__ void reduce_first_add(const int* in, int* out, unsigned n) {
  __shared__ int sdata[kThreads];
  unsigned tid = threadIdx.x;
  sdata[tid] = first_add(in, n);
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) sdata[tid] += sdata[tid + s];
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = sdata[0];
}

// The last 64 partial sums, by the 32 lanes of warp 0 alone: each step reads its partner,
// waits for the whole warp, then writes (the slides' in-place `+=` on a volatile pointer
// raced once lanes stopped running in lockstep). Lane 0 ends with the block's sum.
__device__ __forceinline__ void add_partner(int* sdata, unsigned tid, unsigned s, int& v) {
  v += sdata[tid + s];
  __syncwarp();
  sdata[tid] = v;
  __syncwarp();
}

template <unsigned BlockSize>
__device__ void warp_reduce(int* sdata, unsigned tid) {
  int v = sdata[tid];
  if (BlockSize >= 64) add_partner(sdata, tid, 32, v);
  if (BlockSize >= 32) add_partner(sdata, tid, 16, v);
  if (BlockSize >= 16) add_partner(sdata, tid, 8, v);
  if (BlockSize >= 8) add_partner(sdata, tid, 4, v);
  if (BlockSize >= 4) add_partner(sdata, tid, 2, v);
  if (BlockSize >= 2) add_partner(sdata, tid, 1, v);
}

__global__ void reduce_unroll_last_warp(const int* in, int* out, unsigned n) {
  __shared__ int sdata[kThreads];
  unsigned tid = threadIdx.x;
  sdata[tid] = first_add(in, n);
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 32; s >>= 1) {
    if (tid < s) sdata[tid] += sdata[tid + s];
    __syncthreads();
  }
  if (tid < 32) warp_reduce<kThreads>(sdata, tid);
  if (tid == 0) out[blockIdx.x] = sdata[0];
}

// The block-wide steps of a BlockSize-thread block, unrolled by the compiler.
template <unsigned BlockSize>
__device__ void block_reduce_unrolled(int* sdata, unsigned tid) {
  if (BlockSize >= 1024) {
    if (tid < 512) sdata[tid] += sdata[tid + 512];
    __syncthreads();
  }
  if (BlockSize >= 512) {
    if (tid < 256) sdata[tid] += sdata[tid + 256];
    __syncthreads();
  }
  if (BlockSize >= 256) {
    if (tid < 128) sdata[tid] += sdata[tid + 128];
    __syncthreads();
  }
  if (BlockSize >= 128) {
    if (tid < 64) sdata[tid] += sdata[tid + 64];
    __syncthreads();
  }
  if (tid < 32) warp_reduce<BlockSize>(sdata, tid);
}

template <unsigned BlockSize>
__global__ void reduce_complete_unroll(const int* in, int* out, unsigned n) {
  __shared__ int sdata[BlockSize];
  unsigned tid = threadIdx.x;
  sdata[tid] = first_add(in, n);
  __syncthreads();
  block_reduce_unrolled<BlockSize>(sdata, tid);
  if (tid == 0) out[blockIdx.x] = sdata[0];
}

// Brent's theorem: fewer blocks, each thread first sums a grid-stride loop in a register.
template <unsigned BlockSize>
__global__ void reduce_multiple_per_thread(const int* in, int* out, unsigned n) {
  __shared__ int sdata[BlockSize];
  unsigned tid = threadIdx.x, i = blockIdx.x * (BlockSize * 2) + tid, grid_size = BlockSize * 2 * gridDim.x;
  int sum = 0;
  while (i < n) {
    sum += in[i];
    if (i + BlockSize < n) sum += in[i + BlockSize];
    i += grid_size;
  }
  sdata[tid] = sum;
  __syncthreads();
  block_reduce_unrolled<BlockSize>(sdata, tid);
  if (tid == 0) out[blockIdx.x] = sdata[0];
}

unsigned blocks_for_step(int step, unsigned n) {
  unsigned per_block = step <= 3 ? kThreads : 2 * kThreads;
  unsigned blocks = (n + per_block - 1) / per_block;
  return step == 7 && blocks > kMaxBlocksStep7 ? kMaxBlocksStep7 : blocks;
}

void launch_step(int step, unsigned blocks, const int* in, int* out, unsigned n) {
  dim3 grid(blocks), block(kThreads);
  switch (step) {
    case 1: NNLAB_LAUNCH(reduce_interleaved_divergent, grid, block, 0, in, out, n); break;
    case 2: NNLAB_LAUNCH(reduce_interleaved_strided, grid, block, 0, in, out, n); break;
    case 3: NNLAB_LAUNCH(reduce_sequential, grid, block, 0, in, out, n); break;
    case 4: NNLAB_LAUNCH(reduce_first_add, grid, block, 0, in, out, n); break;
    case 5: NNLAB_LAUNCH(reduce_unroll_last_warp, grid, block, 0, in, out, n); break;
    case 6: NNLAB_LAUNCH(reduce_complete_unroll<kThreads>, grid, block, 0, in, out, n); break;
    case 7: NNLAB_LAUNCH(reduce_multiple_per_thread<kThreads>, grid, block, 0, in, out, n); break;
    default: throw std::invalid_argument("reduction step " + std::to_string(step) + " does not exist (1 to 7)");
  }
}
}  // namespace

int reduction_scratch_ints(int n) { return 2 * int(blocks_for_step(1, unsigned(n > 0 ? n : 1))); }

const int* reduce(int step, const int* in, int n, int* scratch) {
  if (n < 1) throw std::invalid_argument("reduce: n must be at least 1, got " + std::to_string(n));
  int* outputs[2] = {scratch, scratch + blocks_for_step(1, unsigned(n))};
  const int* source = in;
  unsigned count = unsigned(n);
  for (int pass = 0;; ++pass) {  // the partial sums of each pass are the next one's input
    unsigned blocks = blocks_for_step(step, count);
    launch_step(step, blocks, source, outputs[pass % 2], count);
    source = outputs[pass % 2];
    if (blocks == 1) return source;
    count = blocks;
  }
}

}  // namespace nnlab::NNLAB_KERNELS::lab
