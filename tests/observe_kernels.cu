// Kernels for the simulator's observer (nnlab/sim/observe.h): memory patterns whose
// counters are known by hand, and bugs for memcheck, racecheck and initcheck with their fixes.
// They also compile with nvcc, so they stay within the portable subset.
#include "nnlab/backends/cuda/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "tests/observe_kernels.h"

namespace {
__global__ void strided_copy_kernel(const float* in, float* out, int stride, int offset) {
  int i = int(threadIdx.x);
  out[i] = in[offset + i * stride];
}

__global__ void float4_copy_kernel(const float4* in, float4* out) {
  int i = int(threadIdx.x);
  out[i] = in[i];
}

__global__ void broadcast_kernel(const float* in, float* out) {
  __shared__ float s[32];
  int i = int(threadIdx.x);
  s[i] = in[i];
  __syncthreads();
  out[i] = s[0] + in[0];
}

__global__ void half_warp_kernel(const float* in, float* out) {
  int i = int(threadIdx.x);
  if (i < 16) out[i] = in[i];
}

template <int Width>
__global__ void transpose_tile_kernel(const float* in, float* out) {
  __shared__ float tile[32][Width];
  int x = int(threadIdx.x), y = int(threadIdx.y);
  tile[y][x] = in[y * 32 + x];
  __syncthreads();
  out[y * 32 + x] = tile[x][y];
}

__global__ void count_kernel(int* counter) { atomicAdd(counter, 1); }

__global__ void copy_n_kernel(const float* in, float* out, int n) {
  int i = int(threadIdx.x);
  if (i < n) out[i] = in[i];
}

__global__ void copy_n_off_by_one_kernel(const float* in, float* out, int n) {
  int i = int(threadIdx.x);
  if (i <= n) out[i] = in[i];  // BUG (planted): reads and writes one element past the end
}

__global__ void float4_at_kernel(const float* in, float* out, int offset) {
  float4 v = *reinterpret_cast<const float4*>(in + offset);  // needs offset % 4 == 0
  out[threadIdx.x] = v.x + v.y + v.z + v.w;
}

// The right neighbour's value; without the wrap (the bug) lane 31 reads s[32], past the end.
__global__ void shared_neighbour_kernel(float* out, bool wrap) {
  __shared__ float s[32];
  int i = int(threadIdx.x);
  s[i] = float(i);
  __syncthreads();
  out[i] = s[wrap ? (i + 1) % 32 : i + 1];
}

__global__ void dynamic_shared_neighbour_kernel(float* out, bool wrap) {
  NNLAB_DYNAMIC_SHARED(float, s);  // 32 floats
  int i = int(threadIdx.x);
  s[i] = float(i);
  __syncthreads();
  out[i] = s[wrap ? (i + 1) % 32 : i + 1];
}

__global__ void warp_exchange_kernel(const float* in, float* out) {
  __shared__ float s[32];
  int i = int(threadIdx.x);
  s[i] = in[i];
  __syncwarp();
  out[i] = s[31 - i];
}

__global__ void warp_exchange_racy_kernel(const float* in, float* out) {
  __shared__ float s[32];
  int i = int(threadIdx.x);
  s[i] = in[i];
  // BUG (planted): a __syncwarp() is missing; lane i reads lane 31 - i's write.
  out[i] = s[31 - i];
}

__global__ void read_input_kernel(const float* in, float* out, int n) {
  int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = in[i] * 2.0f;
}

__global__ void handoff_kernel(float* scratch, float* out) {
  int i = int(threadIdx.x);
  scratch[i] = float(i);
  __syncthreads();
  out[i] = scratch[63 - i];  // another thread's write, ordered by the barrier
}

__global__ void handoff_racy_kernel(float* scratch, float* out) {
  int i = int(threadIdx.x);
  scratch[i] = float(i);
  // BUG (planted): no __syncthreads; thread i reads thread 63 - i's write of this launch.
  out[i] = scratch[63 - i];
}
}  // namespace

void strided_copy(const float* in, float* out, int stride, int offset) {
  NNLAB_LAUNCH(strided_copy_kernel, dim3(1), dim3(32), 0, in, out, stride, offset);
}
void float4_copy(const float* in, float* out) {
  NNLAB_LAUNCH(float4_copy_kernel, dim3(1), dim3(32), 0, reinterpret_cast<const float4*>(in),
               reinterpret_cast<float4*>(out));
}
void broadcast(const float* in, float* out) { NNLAB_LAUNCH(broadcast_kernel, dim3(1), dim3(32), 0, in, out); }
void half_warp_copy(const float* in, float* out) { NNLAB_LAUNCH(half_warp_kernel, dim3(1), dim3(32), 0, in, out); }
void transpose_tile(const float* in, float* out, bool padded) {
  if (padded)
    NNLAB_LAUNCH(transpose_tile_kernel<33>, dim3(1), dim3(32, 32), 0, in, out);
  else
    NNLAB_LAUNCH(transpose_tile_kernel<32>, dim3(1), dim3(32, 32), 0, in, out);
}
void count_atomically(int* counter, int blocks, int threads) {
  NNLAB_LAUNCH(count_kernel, dim3(unsigned(blocks)), dim3(unsigned(threads)), 0, counter);
}
void copy_n(const float* in, float* out, int n, bool buggy) {
  if (buggy)
    NNLAB_LAUNCH(copy_n_off_by_one_kernel, dim3(1), dim3(unsigned(n + 32)), 0, in, out, n);
  else
    NNLAB_LAUNCH(copy_n_kernel, dim3(1), dim3(unsigned(n + 32)), 0, in, out, n);
}
void float4_at(const float* in, float* out, int offset_floats) {
  NNLAB_LAUNCH(float4_at_kernel, dim3(1), dim3(32), 0, in, out, offset_floats);
}
void shared_neighbour(float* out, bool buggy) {
  NNLAB_LAUNCH(shared_neighbour_kernel, dim3(1), dim3(32), 0, out, !buggy);
}
void dynamic_shared_neighbour(float* out, bool buggy) {
  NNLAB_LAUNCH(dynamic_shared_neighbour_kernel, dim3(1), dim3(32), 32 * sizeof(float), out, !buggy);
}
void warp_exchange(const float* in, float* out, bool buggy) {
  if (buggy)
    NNLAB_LAUNCH(warp_exchange_racy_kernel, dim3(1), dim3(32), 0, in, out);
  else
    NNLAB_LAUNCH(warp_exchange_kernel, dim3(1), dim3(32), 0, in, out);
}
void read_input(const float* in, float* out, int n) {
  NNLAB_LAUNCH(read_input_kernel, blocks_for(n, 128), dim3(128), 0, in, out, n);
}
void block_local_handoff(float* scratch, float* out, bool buggy) {
  if (buggy)
    NNLAB_LAUNCH(handoff_racy_kernel, dim3(1), dim3(64), 0, scratch, out);
  else
    NNLAB_LAUNCH(handoff_kernel, dim3(1), dim3(64), 0, scratch, out);
}

}  // namespace nnlab::NNLAB_KERNELS
