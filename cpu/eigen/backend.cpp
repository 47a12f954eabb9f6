#include "cpu/eigen/backend.h"

#include <omp.h>

#include <Eigen/Core>
#include <cstring>
#include <stdexcept>

namespace nnlab::eigen {

// Eigen's own threading stays off: the op files split work into fixed chunks themselves, so
// results do not depend on the thread count.
CpuBackend::CpuBackend() : threads_(omp_get_max_threads()) { Eigen::setNbThreads(1); }

std::string CpuBackend::device() const {
  return std::string("CPU, Eigen ") + std::to_string(EIGEN_WORLD_VERSION) + "." +
         std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) +
         " + OpenMP, " + std::to_string(threads_) + " thread" + (threads_ == 1 ? "" : "s");
}

void CpuBackend::set_threads(int threads) {
  if (threads < 1) throw std::invalid_argument("cpu backend: threads must be >= 1, got " +
                                               std::to_string(threads));
  threads_ = threads;
}

bool CpuBackend::supports(Op op, DType dtype) const {
  if (op == Op::Fill) return true;
  return is_floating(dtype);
}

void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuBackend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memmove(dst, src, bytes);
}

}  // namespace nnlab::eigen
