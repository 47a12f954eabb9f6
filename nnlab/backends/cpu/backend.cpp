#include "nnlab/backends/cpu/backend.h"

#include <omp.h>

#include <Eigen/Core>
#include <stdexcept>

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

}  // namespace nnlab::cpu
