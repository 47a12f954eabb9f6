// Matrix transpose, out = in^T for an n x n float matrix, in the steps of M. Harris, "An
// Efficient Matrix Transpose in CUDA C/C++" (NVIDIA developer blog, 2013), with one element
// per thread in 32x32 blocks (the shape the published H100 measurements used, docs/gpu_model.md):
//
//   1  copy: coalesced reads and writes, the bandwidth a transpose can hope for
//   2  naive: coalesced reads, writes strided by n (32 sectors a warp)
//   3  shared-memory tiled: a 32x32 tile read by rows and written out by rows, but read from
//      shared memory by columns: every lane of a warp in the same bank (32-way conflicts)
//   4  tiled with padding: 33 floats a tile row put a column across all 32 banks
#include "nnlab/backends/cuda/portable.h"

#include <stdexcept>
#include <string>

#include "lab/api.h"

namespace nnlab::NNLAB_KERNELS::lab {
namespace {
constexpr int kTile = 32;

__global__ void copy_matrix(const float* in, float* out, int n) {
  int x = int(blockIdx.x) * kTile + int(threadIdx.x), y = int(blockIdx.y) * kTile + int(threadIdx.y);
  out[y * n + x] = in[y * n + x];
}

__global__ void transpose_naive(const float* in, float* out, int n) {
  int x = int(blockIdx.x) * kTile + int(threadIdx.x), y = int(blockIdx.y) * kTile + int(threadIdx.y);
  out[x * n + y] = in[y * n + x];
}

// The tile is read into shared memory by rows and written back by rows of the output: the
// block's coordinates swap, and the column of the tile a warp reads becomes its output row.
template <int Width>
__device__ void transpose_through(float (*tile)[Width], const float* in, float* out, int n) {
  int x = int(blockIdx.x) * kTile + int(threadIdx.x), y = int(blockIdx.y) * kTile + int(threadIdx.y);
  tile[threadIdx.y][threadIdx.x] = in[y * n + x];
  __syncthreads();
  x = int(blockIdx.y) * kTile + int(threadIdx.x);
  y = int(blockIdx.x) * kTile + int(threadIdx.y);
  out[y * n + x] = tile[threadIdx.x][threadIdx.y];
}

__global__ void transpose_tiled(const float* in, float* out, int n) {
  __shared__ float tile[kTile][kTile];
  transpose_through<kTile>(tile, in, out, n);
}

// One float of padding a row: a column of the tile spans all 32 banks.
__global__ void transpose_tiled_padded(const float* in, float* out, int n) {
  __shared__ float tile[kTile][kTile + 1];
  transpose_through<kTile + 1>(tile, in, out, n);
}
}  // namespace

void transpose(int step, const float* in, float* out, int n) {
  if (n <= 0 || n % kTile)
    throw std::invalid_argument("lab transpose: n must be a positive multiple of 32, got " + std::to_string(n));
  dim3 grid(unsigned(n / kTile), unsigned(n / kTile)), block(kTile, kTile);
  switch (step) {
    case 1: NNLAB_LAUNCH(copy_matrix, grid, block, 0, in, out, n); break;
    case 2: NNLAB_LAUNCH(transpose_naive, grid, block, 0, in, out, n); break;
    case 3: NNLAB_LAUNCH(transpose_tiled, grid, block, 0, in, out, n); break;
    case 4: NNLAB_LAUNCH(transpose_tiled_padded, grid, block, 0, in, out, n); break;
    default: throw std::invalid_argument("transpose step " + std::to_string(step) + " does not exist (1 to 4)");
  }
}

}  // namespace nnlab::NNLAB_KERNELS::lab
