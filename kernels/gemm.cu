// SGEMM, row-major C = A @ B, in teaching versions kept side by side (as llm.c's dev/cuda):
//   naive  one thread per output element, reading A and B from global memory;
//   tiled  32x32 blocks stage 32x32 tiles of A and B in shared memory, so each global value
//          is read once per tile instead of once per multiply-add; two __syncthreads per
//          tile: after loading (the tile is complete) and after using it (before overwrite).
// Out-of-range tile elements load as zero, so any m, n, k works. The backend's gemm (transpose
// flags, alpha, beta) is the tiled version reading op(a) and op(b) through index functions.
#include "kernels/portable.h"

namespace nnlab::NNLAB_KERNELS {
#include "kernels/api.h"

namespace {
constexpr int kTile = 32;

__global__ void sgemm_naive_kernel(const float* a, const float* b, float* c, int m, int n, int k) {
  int row = int(blockIdx.y * blockDim.y + threadIdx.y),
      col = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (row >= m || col >= n) return;
  float acc = 0.0f;
  for (int p = 0; p < k; ++p) acc += a[row * k + p] * b[p * n + col];
  c[row * n + col] = acc;
}

__global__ void sgemm_tiled_kernel(const float* a, const float* b, float* c, int m, int n, int k) {
  __shared__ float a_tile[kTile][kTile];
  __shared__ float b_tile[kTile][kTile];
  int tx = int(threadIdx.x), ty = int(threadIdx.y);
  int row = int(blockIdx.y) * kTile + ty, col = int(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int t = 0; t < k; t += kTile) {
    a_tile[ty][tx] = (row < m && t + tx < k) ? a[row * k + t + tx] : 0.0f;
    b_tile[ty][tx] = (t + ty < k && col < n) ? b[(t + ty) * n + col] : 0.0f;
    __syncthreads();
    for (int p = 0; p < kTile; ++p) acc += a_tile[ty][p] * b_tile[p][tx];
    __syncthreads();
  }
  if (row < m && col < n) c[row * n + col] = acc;
}

// c = alpha * op(a) @ op(b) + beta * c; a is m x k after op, b is k x n after op.
__global__ void gemm_tiled_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                                  const float* a, const float* b, float beta, float* c) {
  __shared__ float a_tile[kTile][kTile];
  __shared__ float b_tile[kTile][kTile];
  int tx = int(threadIdx.x), ty = int(threadIdx.y);
  int64_t row = int64_t(blockIdx.y) * kTile + ty, col = int64_t(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int64_t t = 0; t < k; t += kTile) {
    int64_t ak = t + tx, bk = t + ty;  // the k index each thread loads
    a_tile[ty][tx] = (row < m && ak < k) ? (ta ? a[ak * m + row] : a[row * k + ak]) : 0.0f;
    b_tile[ty][tx] = (bk < k && col < n) ? (tb ? b[col * k + bk] : b[bk * n + col]) : 0.0f;
    __syncthreads();
    for (int p = 0; p < kTile; ++p) acc += a_tile[ty][p] * b_tile[p][tx];
    __syncthreads();
  }
  if (row < m && col < n) {
    float prior = beta == 0.0f ? 0.0f : beta * c[row * n + col];  // beta 0 ignores NaN in c
    c[row * n + col] = alpha * acc + prior;
  }
}

dim3 tiles(int m, int n) {
  return dim3(unsigned((n + kTile - 1) / kTile), unsigned((m + kTile - 1) / kTile));
}
}  // namespace

void sgemm_naive(const float* a, const float* b, float* c, int m, int n, int k) {
  NNLAB_LAUNCH(sgemm_naive_kernel, tiles(m, n), dim3(kTile, kTile), 0, a, b, c, m, n, k);
}

void sgemm_tiled(const float* a, const float* b, float* c, int m, int n, int k) {
  NNLAB_LAUNCH(sgemm_tiled_kernel, tiles(m, n), dim3(kTile, kTile), 0, a, b, c, m, n, k);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (m == 0 || n == 0) return;
  NNLAB_LAUNCH(gemm_tiled_kernel, tiles(int(m), int(n)), dim3(kTile, kTile), 0, trans_a, trans_b, m,
               n, k, alpha, a, b, beta, c);
}

}  // namespace nnlab::NNLAB_KERNELS
