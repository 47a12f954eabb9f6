// The steps of S. Boehm, "How to Optimize a CUDA Matmul Kernel for cuBLAS-like Performance: a
// Worklog" (2022; the kernels of github.com/siboehm/SGEMM_CUDA, src/kernels/1..6), with its
// launch parameters: C = alpha * A @ B + beta * C in fp32, row-major.
//
//   1  naive: threadIdx.x walks down a column of C, so a warp reads 32 rows of A (32 sectors)
//   2  global-memory coalescing: a warp covers 32 consecutive columns (4 sectors, 1 of A)
//   3  shared-memory cache blocking: 32x32 tiles of A and B staged in shared memory
//   4  1D block tiling: 64x64 tiles, 8-deep k slices, each thread 8 results of a column
//   5  2D block tiling: 128x128 tiles, each thread an 8x8 tile of C in registers
//   6  vectorised memory access: float4 loads and stores, A transposed into shared memory
// The kernels have no bounds checks (nor had the worklog's): m, n, k multiples of 128.
#include "nnlab/backends/cuda/portable.h"

#include <stdexcept>
#include <string>

#include "lab/api.h"

namespace nnlab::NNLAB_KERNELS::lab {
namespace {
__global__ void sgemm_naive(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  const unsigned x = blockIdx.x * blockDim.x + threadIdx.x;  // a row of C
  const unsigned y = blockIdx.y * blockDim.y + threadIdx.y;  // a column of C
  if (x < unsigned(M) && y < unsigned(N)) {
    float tmp = 0.0f;
    for (int i = 0; i < K; ++i) tmp += A[x * K + i] * B[i * N + y];
    C[x * N + y] = alpha * tmp + beta * C[x * N + y];
  }
}

template <int BlockSize>
__global__ void sgemm_global_mem_coalesce(int M, int N, int K, float alpha, const float* A, const float* B,
                                          float beta, float* C) {
  const int cRow = int(blockIdx.x) * BlockSize + int(threadIdx.x) / BlockSize;
  const int cCol = int(blockIdx.y) * BlockSize + int(threadIdx.x) % BlockSize;
  if (cRow < M && cCol < N) {
    float tmp = 0.0f;
    for (int i = 0; i < K; ++i) tmp += A[cRow * K + i] * B[i * N + cCol];
    C[cRow * N + cCol] = alpha * tmp + beta * C[cRow * N + cCol];
  }
}

template <int BlockSize>
__global__ void sgemm_shared_mem_block(int M, int N, int K, float alpha, const float* A, const float* B,
                                       float beta, float* C) {
  const unsigned cRow = blockIdx.x, cCol = blockIdx.y;
  __shared__ float As[BlockSize * BlockSize];
  __shared__ float Bs[BlockSize * BlockSize];
  const unsigned threadCol = threadIdx.x % BlockSize, threadRow = threadIdx.x / BlockSize;
  A += cRow * BlockSize * K;
  B += cCol * BlockSize;
  C += cRow * BlockSize * N + cCol * BlockSize;
  float tmp = 0.0f;
  for (int bkIdx = 0; bkIdx < K; bkIdx += BlockSize) {
    As[threadRow * BlockSize + threadCol] = A[threadRow * K + threadCol];
    Bs[threadRow * BlockSize + threadCol] = B[threadRow * N + threadCol];
    __syncthreads();  // the tiles are complete
    A += BlockSize;
    B += BlockSize * N;
    for (int dotIdx = 0; dotIdx < BlockSize; ++dotIdx)
      tmp += As[threadRow * BlockSize + dotIdx] * Bs[dotIdx * BlockSize + threadCol];
    __syncthreads();  // everyone is done with them before the next ones overwrite them
  }
  C[threadRow * N + threadCol] = alpha * tmp + beta * C[threadRow * N + threadCol];
}

template <int BM, int BN, int BK, int TM>
__global__ void sgemm_1d_blocktiling(int M, int N, int K, float alpha, const float* A, const float* B, float beta,
                                     float* C) {
  const unsigned cRow = blockIdx.y, cCol = blockIdx.x;
  const int threadCol = int(threadIdx.x) % BN, threadRow = int(threadIdx.x) / BN;
  __shared__ float As[BM * BK];
  __shared__ float Bs[BK * BN];
  A += cRow * BM * K;
  B += cCol * BN;
  C += cRow * BM * N + cCol * BN;
  const unsigned innerColA = threadIdx.x % BK, innerRowA = threadIdx.x / BK;
  const unsigned innerColB = threadIdx.x % BN, innerRowB = threadIdx.x / BN;
  float threadResults[TM] = {0.0f};
  for (int bkIdx = 0; bkIdx < K; bkIdx += BK) {
    As[innerRowA * BK + innerColA] = A[innerRowA * K + innerColA];
    Bs[innerRowB * BN + innerColB] = B[innerRowB * N + innerColB];
    __syncthreads();
    A += BK;
    B += BK * N;
    for (unsigned dotIdx = 0; dotIdx < BK; ++dotIdx) {
      float tmpB = Bs[dotIdx * BN + threadCol];  // reused for the TM results in registers
      for (unsigned resIdx = 0; resIdx < TM; ++resIdx)
        threadResults[resIdx] += As[(threadRow * TM + resIdx) * BK + dotIdx] * tmpB;
    }
    __syncthreads();
  }
  for (unsigned resIdx = 0; resIdx < TM; ++resIdx)
    C[(threadRow * TM + resIdx) * N + threadCol] =
        alpha * threadResults[resIdx] + beta * C[(threadRow * TM + resIdx) * N + threadCol];
}

template <int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM * BN) / (TM * TN), 1)
    sgemm_2d_blocktiling(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  const unsigned cRow = blockIdx.y, cCol = blockIdx.x;
  const unsigned numThreadsBlocktile = (BM * BN) / (TM * TN);
  const int threadCol = int(threadIdx.x) % (BN / TN), threadRow = int(threadIdx.x) / (BN / TN);
  __shared__ float As[BM * BK];
  __shared__ float Bs[BK * BN];
  A += cRow * BM * K;
  B += cCol * BN;
  C += cRow * BM * N + cCol * BN;
  const unsigned innerRowA = threadIdx.x / BK, innerColA = threadIdx.x % BK, strideA = numThreadsBlocktile / BK;
  const unsigned innerRowB = threadIdx.x / BN, innerColB = threadIdx.x % BN, strideB = numThreadsBlocktile / BN;
  float threadResults[TM * TN] = {0.0f};
  float regM[TM] = {0.0f};
  float regN[TN] = {0.0f};
  for (int bkIdx = 0; bkIdx < K; bkIdx += BK) {
    for (unsigned loadOffset = 0; loadOffset < BM; loadOffset += strideA)
      As[(innerRowA + loadOffset) * BK + innerColA] = A[(innerRowA + loadOffset) * K + innerColA];
    for (unsigned loadOffset = 0; loadOffset < BK; loadOffset += strideB)
      Bs[(innerRowB + loadOffset) * BN + innerColB] = B[(innerRowB + loadOffset) * N + innerColB];
    __syncthreads();
    A += BK;
    B += BK * N;
    for (unsigned dotIdx = 0; dotIdx < BK; ++dotIdx) {
      for (unsigned i = 0; i < TM; ++i) regM[i] = As[(threadRow * TM + i) * BK + dotIdx];
      for (unsigned i = 0; i < TN; ++i) regN[i] = Bs[dotIdx * BN + threadCol * TN + i];
      for (unsigned resIdxM = 0; resIdxM < TM; ++resIdxM)
        for (unsigned resIdxN = 0; resIdxN < TN; ++resIdxN)
          threadResults[resIdxM * TN + resIdxN] += regM[resIdxM] * regN[resIdxN];
    }
    __syncthreads();
  }
  for (unsigned resIdxM = 0; resIdxM < TM; ++resIdxM)
    for (unsigned resIdxN = 0; resIdxN < TN; ++resIdxN)
      C[(threadRow * TM + resIdxM) * N + threadCol * TN + resIdxN] =
          alpha * threadResults[resIdxM * TN + resIdxN] + beta * C[(threadRow * TM + resIdxM) * N + threadCol * TN + resIdxN];
}

template <int BM, int BN, int BK, int TM, int TN>
__global__ void sgemm_vectorize(int M, int N, int K, float alpha, const float* A, const float* B, float beta,
                                float* C) {
  const unsigned cRow = blockIdx.y, cCol = blockIdx.x;
  const int threadCol = int(threadIdx.x) % (BN / TN), threadRow = int(threadIdx.x) / (BN / TN);
  // 16-byte aligned for the float4 stores into Bs (nvcc happens to align shared arrays so; the
  // simulator's thread_local arrays need asking, and UBSan flags the misaligned float4 store).
  alignas(16) __shared__ float As[BM * BK];  // transposed: As[k][m], so a thread's TM values are contiguous
  alignas(16) __shared__ float Bs[BK * BN];
  A += cRow * BM * K;
  B += cCol * BN;
  C += cRow * BM * N + cCol * BN;
  const unsigned innerRowA = threadIdx.x / (BK / 4), innerColA = threadIdx.x % (BK / 4);
  const unsigned innerRowB = threadIdx.x / (BN / 4), innerColB = threadIdx.x % (BN / 4);
  float threadResults[TM * TN] = {0.0f};
  float regM[TM] = {0.0f};
  float regN[TN] = {0.0f};
  for (int bkIdx = 0; bkIdx < K; bkIdx += BK) {
    float4 tmp = reinterpret_cast<const float4*>(&A[innerRowA * K + innerColA * 4])[0];
    As[(innerColA * 4 + 0) * BM + innerRowA] = tmp.x;
    As[(innerColA * 4 + 1) * BM + innerRowA] = tmp.y;
    As[(innerColA * 4 + 2) * BM + innerRowA] = tmp.z;
    As[(innerColA * 4 + 3) * BM + innerRowA] = tmp.w;
    reinterpret_cast<float4*>(&Bs[innerRowB * BN + innerColB * 4])[0] =
        reinterpret_cast<const float4*>(&B[innerRowB * N + innerColB * 4])[0];
    __syncthreads();
    A += BK;
    B += BK * N;
    for (unsigned dotIdx = 0; dotIdx < BK; ++dotIdx) {
      for (unsigned i = 0; i < TM; ++i) regM[i] = As[dotIdx * BM + threadRow * TM + i];
      for (unsigned i = 0; i < TN; ++i) regN[i] = Bs[dotIdx * BN + threadCol * TN + i];
      for (unsigned resIdxM = 0; resIdxM < TM; ++resIdxM)
        for (unsigned resIdxN = 0; resIdxN < TN; ++resIdxN)
          threadResults[resIdxM * TN + resIdxN] += regM[resIdxM] * regN[resIdxN];
    }
    __syncthreads();
  }
  for (unsigned resIdxM = 0; resIdxM < TM; resIdxM += 1)
    for (unsigned resIdxN = 0; resIdxN < TN; resIdxN += 4) {
      float4 tmp = reinterpret_cast<float4*>(&C[(threadRow * TM + resIdxM) * N + threadCol * TN + resIdxN])[0];
      tmp.x = alpha * threadResults[resIdxM * TN + resIdxN] + beta * tmp.x;
      tmp.y = alpha * threadResults[resIdxM * TN + resIdxN + 1] + beta * tmp.y;
      tmp.z = alpha * threadResults[resIdxM * TN + resIdxN + 2] + beta * tmp.z;
      tmp.w = alpha * threadResults[resIdxM * TN + resIdxN + 3] + beta * tmp.w;
      reinterpret_cast<float4*>(&C[(threadRow * TM + resIdxM) * N + threadCol * TN + resIdxN])[0] = tmp;
    }
}

// The worklog's launch parameters (src/runner.cu), and the instances it launches, named:
// the kernel of NNLAB_LAUNCH cannot hold a comma.
constexpr int kBK = 8, kTM = 8, kTN = 8, k1dTile = 64, k2dTile = 128;
const auto sgemm_1d_blocktiling_64x64 = sgemm_1d_blocktiling<k1dTile, k1dTile, kBK, kTM>;
const auto sgemm_2d_blocktiling_128x128 = sgemm_2d_blocktiling<k2dTile, k2dTile, kBK, kTM, kTN>;
const auto sgemm_vectorize_128x128 = sgemm_vectorize<k2dTile, k2dTile, kBK, kTM, kTN>;
}  // namespace

void sgemm(int step, int m, int n, int k, float alpha, const float* a, const float* b, float beta, float* c) {
  if (m % 128 || n % 128 || k % 128 || m <= 0 || n <= 0 || k <= 0)
    throw std::invalid_argument("lab sgemm: m, n and k must be positive multiples of 128, got " + std::to_string(m) +
                                ", " + std::to_string(n) + ", " + std::to_string(k));
  auto blocks = [](int extent, int tile) { return unsigned(extent / tile); };
  switch (step) {
    case 1:
      NNLAB_LAUNCH(sgemm_naive, dim3(blocks(m, 32), blocks(n, 32)), dim3(32, 32), 0, m, n, k, alpha, a, b, beta, c);
      break;
    case 2:
      NNLAB_LAUNCH(sgemm_global_mem_coalesce<32>, dim3(blocks(m, 32), blocks(n, 32)), dim3(32 * 32), 0, m, n, k,
                   alpha, a, b, beta, c);
      break;
    case 3:
      NNLAB_LAUNCH(sgemm_shared_mem_block<32>, dim3(blocks(m, 32), blocks(n, 32)), dim3(32 * 32), 0, m, n, k, alpha,
                   a, b, beta, c);
      break;
    case 4: {
      NNLAB_LAUNCH(sgemm_1d_blocktiling_64x64, dim3(blocks(n, k1dTile), blocks(m, k1dTile)), dim3(k1dTile * k1dTile / kTM), 0, m, n, k,
                   alpha, a, b, beta, c);
      break;
    }
    case 5: {
      NNLAB_LAUNCH(sgemm_2d_blocktiling_128x128, dim3(blocks(n, k2dTile), blocks(m, k2dTile)), dim3(k2dTile * k2dTile / (kTM * kTN)), 0,
                   m, n, k, alpha, a, b, beta, c);
      break;
    }
    case 6: {
      NNLAB_LAUNCH(sgemm_vectorize_128x128, dim3(blocks(n, k2dTile), blocks(m, k2dTile)), dim3(k2dTile * k2dTile / (kTM * kTN)), 0,
                   m, n, k, alpha, a, b, beta, c);
      break;
    }
    default: throw std::invalid_argument("sgemm step " + std::to_string(step) + " does not exist (1 to 6)");
  }
}

}  // namespace nnlab::NNLAB_KERNELS::lab
