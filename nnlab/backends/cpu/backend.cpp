#include "nnlab/backends/cpu/backend.h"

#include <omp.h>

#include <Eigen/Core>
#include <cstring>
#include <stdexcept>

#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/simd.h"

namespace nnlab::cpu {

// Eigen's own threading stays off: the op files split work into fixed chunks themselves, so
// results do not depend on the thread count.
CpuBackend::CpuBackend() : threads_(omp_get_max_threads()) {
  Eigen::setNbThreads(1);
}

// Names the vector instructions the build's kernels use (the GEMM, Winograd and direct
// convolutions): results depend on them (a fused multiply-add rounds once), so they are shown.
std::string CpuBackend::device() const {
  return std::string("CPU, Eigen ") + std::to_string(EIGEN_WORLD_VERSION) + "." +
         std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) +
         " + OpenMP, " + simd::kIsa + " kernels, " + std::to_string(threads_) + " thread" +
         (threads_ == 1 ? "" : "s");
}

void CpuBackend::set_threads(int threads) {
  if (threads < 1)
    throw std::invalid_argument("cpu backend: threads must be >= 1, got " +
                                std::to_string(threads));
  threads_ = threads;
}

// A batch is copied in by the threads that will read it, each its equal share (samples, for a
// batch's leading dimension), as the GEMMs' packing splits them (gemm::prepack_b): copied by
// one thread, the lines the other thread read last step had to be taken back from its cache.
void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  constexpr int64_t kGrain = int64_t(1) << 16;  // bytes
  if (bytes == 0) return;  // an empty tensor's pointers may be null: not for memcpy
  parallel_shares(int64_t(bytes), kGrain, threads_, [&](int64_t lo, int64_t hi) {
    std::memcpy(static_cast<char*>(dst) + lo, static_cast<const char*>(src) + lo, size_t(hi - lo));
  });
}

}  // namespace nnlab::cpu
