// Block-wide sums for kernels: each warp sums with __shfl_down_sync, the warp totals meet in
// shared memory and warp 0 sums those. Every thread gets the block's total. The order of
// additions is fixed by the block size, so the result is the same run to run. Blocks must be
// whole warps (a multiple of 32 threads), as shuffles need. Include inside the kernels'
// namespace, after nnlab/backends/cuda/portable.h.

__device__ inline float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // complete in lane 0
}

__device__ inline float block_sum(float v) {
  __shared__ float warp_totals[32];
  __shared__ float total;
  int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
  v = warp_sum(v);
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x) / 32 ? warp_totals[lane] : 0.0f;
    v = warp_sum(v);
    if (lane == 0) total = v;
  }
  __syncthreads();
  float result = total;
  __syncthreads();  // all have read `total` before a next call may overwrite it
  return result;
}
