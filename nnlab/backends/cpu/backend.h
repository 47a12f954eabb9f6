// The cpu backend, float32 and float64 (float16 and bfloat16 stored, computed in float32): a
// packed GEMM (packed_gemm.h) under the products and convolutions (with Winograd and direct
// kernels by shape), Eigen array expressions for the rest, OpenMP over rectangles, rows and
// chunks. Work is split so that no sum depends on the split (or into fixed chunks combined in
// a fixed order): results are bit-identical run to run and for any thread count.
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
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
#include "nnlab/core/op_overrides.inc"

 private:
  int threads_;
};

}  // namespace nnlab::cpu
