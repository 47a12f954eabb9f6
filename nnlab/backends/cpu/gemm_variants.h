// The cpu backend's GEMM in teaching steps, each a bench_ops row beside the hand-written CUDA
// variants (nnlab/backends/cuda/gemm.cu), C = A B for row-major float matrices:
//   naive             a dot product per element of C, k innermost: B read down its columns,
//                     a cache line per multiply-add;
//   reordered         loops i, k, j: a row of B scaled into a row of C, unit stride, which
//                     the compiler vectorises; C's row streams through once per k;
//   register-blocked  the micro-kernel of packed_gemm.h on the operands as they lie: an MR x NR
//                     tile of C in registers, each loaded A element used NR times and each B
//                     vector MR times, but A read with a stride and no cache blocking;
//   packed            + packing into micro-panels and Goto's cache blocking (one thread);
//   packed-threaded   + threads owning rectangles of C: the backend's gemm.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nnlab::cpu {

enum class GemmVariant { Naive, Reordered, RegisterBlocked, Packed, PackedThreaded };

// The variants in teaching order, with the names bench_ops prints.
std::vector<std::pair<std::string, GemmVariant>> gemm_variants();

void gemm_variant(GemmVariant variant, int64_t m, int64_t n, int64_t k, const float* a,
                  const float* b, float* c, int threads);

}  // namespace nnlab::cpu
