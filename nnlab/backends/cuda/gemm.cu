// SGEMM, row-major C = A @ B, in teaching versions kept side by side (as llm.c's dev/cuda):
//   naive  one thread per output element, reading A and B from global memory;
//   tiled  32x32 blocks stage 32x32 tiles of A and B in shared memory, so each global value
//          is read once per tile instead of once per multiply-add; two __syncthreads per
//          tile: after loading (the tile is complete) and after using it (before overwrite);
//   register-blocked  64x64 block tiles with a 16-deep k slice; each of 256 threads keeps a
//          4x4 tile of C in registers and reuses each shared value 4 times from registers,
//          so shared-memory traffic per multiply-add drops 4x;
//   vectorised  the register-blocked kernel with 16-byte float4 loads of A, B and C and
//          float4 reads of the shared tiles: a quarter of the load instructions. It needs
//          each operand's contiguous dimension to be a multiple of 4 and 16-byte aligned
//          pointers; gemm_variant falls back to the register-blocked kernel otherwise.
//   wmma  (float16 operands only) one warp per 16x16 tile of C on tensor cores, through the
//          warp matrix API; bfloat16 takes gemm_16_kernel, the tiled scheme on 16-bit data.
// Out-of-range tile elements load as zero, so any m, n, k works. Every variant takes transpose
// flags, alpha and beta, reading op(a) and op(b) through index functions; the backend's gemm
// is the vectorised one.
#include "nnlab/backends/cuda/portable.h"

#include <cstdint>

#include "nnlab/backends/cuda/api.h"

namespace nnlab::NNLAB_KERNELS {

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

constexpr int kBlockM = 64, kBlockN = 64, kBlockK = 16, kThreadM = 4, kThreadN = 4;

__global__ void gemm_blocked_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                                    const float* a, const float* b, float beta, float* c) {
  __shared__ float a_tile[kBlockK][kBlockM];  // k-major: a thread's 4 rows are adjacent
  __shared__ float b_tile[kBlockK][kBlockN];
  int tx = int(threadIdx.x), ty = int(threadIdx.y), tid = ty * 16 + tx;
  int64_t row0 = int64_t(blockIdx.y) * kBlockM, col0 = int64_t(blockIdx.x) * kBlockN;
  float acc[kThreadM][kThreadN];
  for (int i = 0; i < kThreadM; ++i)
    for (int j = 0; j < kThreadN; ++j) acc[i][j] = 0.0f;
  for (int64_t t = 0; t < k; t += kBlockK) {
    for (int l = tid; l < kBlockM * kBlockK; l += 256) {  // 4 loads of A and of B per thread
      int r = l / kBlockK, kk = l % kBlockK;
      int64_t gr = row0 + r, gk = t + kk;
      a_tile[kk][r] = (gr < m && gk < k) ? (ta ? a[gk * m + gr] : a[gr * k + gk]) : 0.0f;
    }
    for (int l = tid; l < kBlockK * kBlockN; l += 256) {
      int kk = l / kBlockN, cc = l % kBlockN;
      int64_t gk = t + kk, gc = col0 + cc;
      b_tile[kk][cc] = (gk < k && gc < n) ? (tb ? b[gc * k + gk] : b[gk * n + gc]) : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kBlockK; ++kk) {
      float ra[kThreadM], rb[kThreadN];
      for (int i = 0; i < kThreadM; ++i) ra[i] = a_tile[kk][ty * kThreadM + i];
      for (int j = 0; j < kThreadN; ++j) rb[j] = b_tile[kk][tx * kThreadN + j];
      for (int i = 0; i < kThreadM; ++i)
        for (int j = 0; j < kThreadN; ++j) acc[i][j] += ra[i] * rb[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < kThreadM; ++i)
    for (int j = 0; j < kThreadN; ++j) {
      int64_t r = row0 + ty * kThreadM + i, col = col0 + tx * kThreadN + j;
      if (r < m && col < n) {
        float prior = beta == 0.0f ? 0.0f : beta * c[r * n + col];  // beta 0 ignores NaN in c
        c[r * n + col] = alpha * acc[i][j] + prior;
      }
    }
}

// The register-blocked kernel with float4 traffic. A float4 is either wholly inside or wholly
// outside the matrix, because every contiguous dimension is a multiple of 4 (checked by the
// host), so the bounds tests stay per float4.
__global__ void gemm_vectorized_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                                       const float* a, const float* b, float beta, float* c) {
  alignas(16) __shared__ float a_tile[kBlockK][kBlockM];
  alignas(16) __shared__ float b_tile[kBlockK][kBlockN];
  int tx = int(threadIdx.x), ty = int(threadIdx.y), tid = ty * 16 + tx;
  int64_t row0 = int64_t(blockIdx.y) * kBlockM, col0 = int64_t(blockIdx.x) * kBlockN;
  const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  float acc[kThreadM][kThreadN];
  for (int i = 0; i < kThreadM; ++i)
    for (int j = 0; j < kThreadN; ++j) acc[i][j] = 0.0f;
  for (int64_t t = 0; t < k; t += kBlockK) {
    // Each tile is 64 x 16 floats = 256 float4: one per thread for A and one for B.
    if (!ta) {  // A is m x k: 4 consecutive k of one row, stored transposed into the tile
      int r = tid / 4, kk = (tid % 4) * 4;
      int64_t gr = row0 + r, gk = t + kk;
      float4 v = (gr < m && gk < k) ? *reinterpret_cast<const float4*>(&a[gr * k + gk]) : zero;
      a_tile[kk][r] = v.x, a_tile[kk + 1][r] = v.y, a_tile[kk + 2][r] = v.z, a_tile[kk + 3][r] = v.w;
    } else {  // A is stored k x m: 4 consecutive rows at one k, already the tile's layout
      int kk = tid / 16, r = (tid % 16) * 4;
      int64_t gk = t + kk, gr = row0 + r;
      *reinterpret_cast<float4*>(&a_tile[kk][r]) =
          (gk < k && gr < m) ? *reinterpret_cast<const float4*>(&a[gk * m + gr]) : zero;
    }
    if (!tb) {  // B is k x n: 4 consecutive columns at one k
      int kk = tid / 16, cc = (tid % 16) * 4;
      int64_t gk = t + kk, gc = col0 + cc;
      *reinterpret_cast<float4*>(&b_tile[kk][cc]) =
          (gk < k && gc < n) ? *reinterpret_cast<const float4*>(&b[gk * n + gc]) : zero;
    } else {  // B is stored n x k: 4 consecutive k of one column, stored transposed
      int cc = tid / 4, kk = (tid % 4) * 4;
      int64_t gc = col0 + cc, gk = t + kk;
      float4 v = (gc < n && gk < k) ? *reinterpret_cast<const float4*>(&b[gc * k + gk]) : zero;
      b_tile[kk][cc] = v.x, b_tile[kk + 1][cc] = v.y, b_tile[kk + 2][cc] = v.z, b_tile[kk + 3][cc] = v.w;
    }
    __syncthreads();
    for (int kk = 0; kk < kBlockK; ++kk) {
      float4 ra = *reinterpret_cast<const float4*>(&a_tile[kk][ty * kThreadM]);
      float4 rb = *reinterpret_cast<const float4*>(&b_tile[kk][tx * kThreadN]);
      float as[kThreadM] = {ra.x, ra.y, ra.z, ra.w}, bs[kThreadN] = {rb.x, rb.y, rb.z, rb.w};
      for (int i = 0; i < kThreadM; ++i)
        for (int j = 0; j < kThreadN; ++j) acc[i][j] += as[i] * bs[j];
    }
    __syncthreads();
  }
  int64_t col = col0 + tx * kThreadN;
  if (col >= n) return;  // n is a multiple of 4: the thread's 4 columns are all in or all out
  for (int i = 0; i < kThreadM; ++i) {
    int64_t r = row0 + ty * kThreadM + i;
    if (r >= m) break;
    float4* out = reinterpret_cast<float4*>(&c[r * n + col]);
    float4 prior = beta == 0.0f ? zero : *out;  // beta 0 ignores NaN in c
    *out = make_float4(alpha * acc[i][0] + beta * prior.x, alpha * acc[i][1] + beta * prior.y,
                       alpha * acc[i][2] + beta * prior.z, alpha * acc[i][3] + beta * prior.w);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// c = alpha * op(a) @ op(b) + beta * c, one thread per element of c.
__global__ void gemm_naive_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                                  const float* a, const float* b, float beta, float* c) {
  int64_t row = int64_t(blockIdx.y) * blockDim.y + threadIdx.y,
          col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= m || col >= n) return;
  float acc = 0.0f;
  for (int64_t p = 0; p < k; ++p)
    acc += (ta ? a[p * m + row] : a[row * k + p]) * (tb ? b[col * k + p] : b[p * n + col]);
  float prior = beta == 0.0f ? 0.0f : beta * c[row * n + col];
  c[row * n + col] = alpha * acc + prior;
}

// c[i] = alpha * acc + beta * c[i], where c is 16-bit (c16, rounded once when stored) or
// float32 (c32, kept: a sum over several products, as the convolution's filter gradient
// needs), whichever is not null.
template <typename T>
__device__ __forceinline__ void store_c(T* c16, float* c32, int64_t at, float alpha, float acc, float beta) {
  float prior = beta == 0.0f ? 0.0f : beta * (c32 ? c32[at] : widen(c16[at]));
  if (c32)
    c32[at] = alpha * acc + prior;
  else
    c16[at] = narrow<T>(alpha * acc + prior);
}

// Mixed precision's GEMM: 16-bit operands (T = __half or __nv_bfloat16), the tiled kernel's
// scheme with the tiles widened to float32 as they are staged, products and sums in float32,
// and c stored by store_c (as cuBLAS's gemmEx with CUBLAS_COMPUTE_32F).
template <typename T>
__global__ void gemm_16_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                               const T* a, const T* b, float beta, T* c, float* c32) {
  __shared__ float a_tile[kTile][kTile];
  __shared__ float b_tile[kTile][kTile];
  int tx = int(threadIdx.x), ty = int(threadIdx.y);
  int64_t row = int64_t(blockIdx.y) * kTile + ty, col = int64_t(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int64_t t = 0; t < k; t += kTile) {
    int64_t ak = t + tx, bk = t + ty;
    a_tile[ty][tx] = (row < m && ak < k) ? widen(ta ? a[ak * m + row] : a[row * k + ak]) : 0.0f;
    b_tile[ty][tx] = (bk < k && col < n) ? widen(tb ? b[col * k + bk] : b[bk * n + col]) : 0.0f;
    __syncthreads();
    for (int p = 0; p < kTile; ++p) acc += a_tile[ty][p] * b_tile[p][tx];
    __syncthreads();
  }
  if (row < m && col < n) store_c(c, c32, row * n + col, alpha, acc, beta);
}

// The tensor-core variant, for float16 (bfloat16's WMMA needs sm_80; the build targets sm_75
// too): one warp per 16x16 tile of c, written with the warp matrix API (mma.h; the
// simulator's nnlab/sim/wmma.h). Each 16-deep slice of op(a) and op(b) is staged in shared
// memory (transposes resolved, out-of-range elements zero, so any m, n, k works), loaded into
// fragments and multiplied into a float32 accumulator by mma_sync; the accumulator goes out
// through shared memory so that alpha, beta and the rounding to float16 (store_c) apply per
// element.
constexpr int kWmma = 16;
__global__ void gemm_wmma_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                                 const __half* a, const __half* b, float beta, __half* c, float* c32) {
  alignas(32) __shared__ __half a_tile[kWmma * kWmma];  // load_matrix_sync wants 256-bit alignment
  alignas(32) __shared__ __half b_tile[kWmma * kWmma];
  alignas(32) __shared__ float c_tile[kWmma * kWmma];
  int lane = int(threadIdx.x);
  int64_t row0 = int64_t(blockIdx.y) * kWmma, col0 = int64_t(blockIdx.x) * kWmma;
  wmma::fragment<wmma::matrix_a, kWmma, kWmma, kWmma, __half, wmma::row_major> a_frag;
  wmma::fragment<wmma::matrix_b, kWmma, kWmma, kWmma, __half, wmma::row_major> b_frag;
  wmma::fragment<wmma::accumulator, kWmma, kWmma, kWmma, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  const __half zero = __float2half_rn(0.0f);
  for (int64_t t = 0; t < k; t += kWmma) {
    for (int e = lane; e < kWmma * kWmma; e += 32) {
      int64_t r = e / kWmma, q = e % kWmma;
      int64_t ar = row0 + r, ak = t + q, bk = t + r, bc = col0 + q;
      a_tile[e] = (ar < m && ak < k) ? (ta ? a[ak * m + ar] : a[ar * k + ak]) : zero;
      b_tile[e] = (bk < k && bc < n) ? (tb ? b[bc * k + bk] : b[bk * n + bc]) : zero;
    }
    __syncthreads();
    wmma::load_matrix_sync(a_frag, a_tile, kWmma);
    wmma::load_matrix_sync(b_frag, b_tile, kWmma);
    wmma::mma_sync(acc, a_frag, b_frag, acc);
    __syncthreads();  // before the next slice overwrites the tiles
  }
  wmma::store_matrix_sync(c_tile, acc, kWmma, wmma::mem_row_major);
  __syncthreads();
  for (int e = lane; e < kWmma * kWmma; e += 32) {
    int64_t r = row0 + e / kWmma, q = col0 + e % kWmma;
    if (r < m && q < n) store_c(c, c32, r * n + q, alpha, c_tile[e], beta);
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

namespace {
void launch_gemm_16(Float16Kind kind, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const uint16_t* a, const uint16_t* b, float beta, uint16_t* c16, float* c32) {
  if (m == 0 || n == 0) return;
  if (kind == Float16Kind::Half)  // tensor cores
    NNLAB_LAUNCH(gemm_wmma_kernel, dim3(unsigned((n + kWmma - 1) / kWmma), unsigned((m + kWmma - 1) / kWmma)),
                 dim3(32), 0, trans_a, trans_b, m, n, k, alpha, as<__half>(a), as<__half>(b), beta, as<__half>(c16),
                 c32);
  else
    NNLAB_LAUNCH(gemm_16_kernel<__nv_bfloat16>, tiles(int(m), int(n)), dim3(kTile, kTile), 0, trans_a, trans_b, m,
                 n, k, alpha, as<__nv_bfloat16>(a), as<__nv_bfloat16>(b), beta, as<__nv_bfloat16>(c16), c32);
}
}  // namespace

void gemm_16(Float16Kind kind, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const uint16_t* a, const uint16_t* b, float beta, uint16_t* c) {
  launch_gemm_16(kind, trans_a, trans_b, m, n, k, alpha, a, b, beta, c, nullptr);
}
void gemm_16_float_c(Float16Kind kind, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const uint16_t* a, const uint16_t* b, float beta, float* c) {
  launch_gemm_16(kind, trans_a, trans_b, m, n, k, alpha, a, b, beta, nullptr, c);
}

// Every row the float4 kernel reads or writes must start 16-byte aligned.
bool gemm_vectorizable(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                       const float* b, const float* c) {
  int64_t a_row = trans_a ? m : k, b_row = trans_b ? k : n;
  return a_row % 4 == 0 && b_row % 4 == 0 && n % 4 == 0 && aligned16(a) && aligned16(b) &&
         aligned16(c);
}

void gemm_variant(GemmVariant variant, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, const float* b, float beta, float* c) {
  if (m == 0 || n == 0) return;
  switch (variant) {
    case GemmVariant::Naive:
      NNLAB_LAUNCH(gemm_naive_kernel, tiles(int(m), int(n)), dim3(kTile, kTile), 0, trans_a,
                   trans_b, m, n, k, alpha, a, b, beta, c);
      return;
    case GemmVariant::Tiled:
      NNLAB_LAUNCH(gemm_tiled_kernel, tiles(int(m), int(n)), dim3(kTile, kTile), 0, trans_a,
                   trans_b, m, n, k, alpha, a, b, beta, c);
      return;
    case GemmVariant::Vectorized:
      if (gemm_vectorizable(trans_a, trans_b, m, n, k, a, b, c)) {
        NNLAB_LAUNCH(
            gemm_vectorized_kernel,
            dim3(unsigned((n + kBlockN - 1) / kBlockN), unsigned((m + kBlockM - 1) / kBlockM)),
            dim3(16, 16), 0, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
        return;
      }
      [[fallthrough]];
    case GemmVariant::RegisterBlocked:
      NNLAB_LAUNCH(
          gemm_blocked_kernel,
          dim3(unsigned((n + kBlockN - 1) / kBlockN), unsigned((m + kBlockM - 1) / kBlockM)),
          dim3(16, 16), 0, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
      return;
  }
}

// The backend's GEMM: the vectorised kernel where it applies, register-blocked elsewhere.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  gemm_variant(GemmVariant::Vectorized, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

}  // namespace nnlab::NNLAB_KERNELS
