// The cpu backend: Eigen (vectorised GEMM and array expressions) plus OpenMP over rows and
// chunks, float32 and float64. Every reduction splits its work into fixed chunks combined in
// a fixed order, so results are bit-identical run to run and for any thread count.
#pragma once
#include "core/backend.h"

namespace nnlab::eigen {

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  CpuBackend();
  std::string device() const override;
  void set_threads(int threads) override;
  int threads() const override { return threads_; }
  bool supports(Op op, DType dtype) const override;

  Allocator& allocator() override { return allocator_; }
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;

  void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b,
            double beta, const Tensor& c) override;
  void bias_add(const Tensor& y, const Tensor& bias) override;
  void sum_dim0(const Tensor& x, const Tensor& out) override;
  void add(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void mul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void scale(const Tensor& x, double alpha, const Tensor& out) override;
  void expand_scalar(const Tensor& scalar, double alpha, const Tensor& out) override;
  void relu_forward(const Tensor& x, const Tensor& y) override;
  void relu_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override;
  void sum(const Tensor& x, const Tensor& out) override;
  void log_softmax_forward(const Tensor& x, const Tensor& y) override;
  void log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override;
  void nll_loss_forward(const Tensor& logp, const Tensor& labels, const Tensor& out) override;
  void nll_loss_backward(const Tensor& dout, const Tensor& labels, const Tensor& dlogp) override;
  void cross_entropy_backward(const Tensor& dout, const Tensor& logp, const Tensor& labels,
                              const Tensor& dlogits) override;
  void argmax(const Tensor& x, const Tensor& out) override;
  void fill(const Tensor& t, double value) override;
  void fill_uniform(const Tensor& t, double low, double high, uint64_t seed,
                    uint64_t offset) override;
  void fill_normal(const Tensor& t, double mean, double std, uint64_t seed,
                   uint64_t offset) override;
  void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf,
                  const SgdParams& p, bool first_step) override;
  void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                   const AdamParams& p, int64_t step) override;

 private:
  HostAllocator allocator_;
  int threads_;
};

}  // namespace nnlab::eigen
