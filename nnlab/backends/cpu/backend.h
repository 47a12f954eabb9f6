// The cpu backend: Eigen (vectorised GEMM and array expressions) plus OpenMP over rows and
// chunks, float32 and float64. Work is split into fixed chunks combined in a fixed order, so
// results are bit-identical run to run and for any thread count.
#pragma once
#include "nnlab/backends/host/host_backend.h"

namespace nnlab::cpu {

class CpuBackend : public host::HostBackend {
 public:
  CpuBackend();
  std::string name() const override { return "cpu"; }
  std::string device() const override;
  void set_threads(int threads) override;
  int threads() const override { return threads_; }
#include "nnlab/core/op_overrides.inc"

 private:
  int threads_;
};

}  // namespace nnlab::cpu
