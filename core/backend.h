// Backend: the op table every implementation provides (reference loops, Eigen + OpenMP,
// CUDA kernels, cuBLAS/cuDNN, the CUDA simulator). Tensors passed to a backend are
// contiguous and live on it; outputs are preallocated by the caller (core/ops), so a
// backend only computes. supports() answers honestly: core/ops asks it before every call
// and a missing op is an error naming the backend and the op, never a silent fallback.
#pragma once
#include <cstdint>
#include <string>

#include "core/allocator.h"
#include "core/tensor.h"

namespace nnlab {

enum class Op {
  Gemm,
  BiasAdd,
  SumDim0,
  Add,
  Mul,
  Scale,
  ExpandScalar,
  ReluForward,
  ReluBackward,
  Sum,
  LogSoftmaxForward,
  LogSoftmaxBackward,
  NllLossForward,
  NllLossBackward,
  CrossEntropyBackward,
  Argmax,
  Fill,
  FillUniform,
  FillNormal,
  SgdUpdate,
  AdamUpdate,
};
const char* op_name(Op op);

// PyTorch's torch.optim.SGD rule (weight decay, momentum with dampening, Nesterov).
struct SgdParams {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};
// PyTorch's torch.optim.Adam rule (L2 weight decay added to the gradient, bias correction).
struct AdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;    // "reference", "cpu", "cuda", ...
  virtual std::string device() const = 0;  // what it really runs on, for the apps to print
  virtual bool supports(Op op, DType dtype) const = 0;
  virtual bool is_gpu() const { return false; }
  // Worker threads for compute; backends without threads ignore set_threads and report 1.
  virtual void set_threads(int threads) {}
  virtual int threads() const { return 1; }

  // Memory.
  virtual Allocator& allocator() = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() {}

  // Compute. c = alpha * op(a) @ op(b) + beta * c, with op(x) = x or x^T; all 2-D.
  virtual void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b,
                    double beta, const Tensor& c) = 0;
  virtual void bias_add(const Tensor& y, const Tensor& bias) = 0;  // y[n, m] += bias[m]
  virtual void sum_dim0(const Tensor& x, const Tensor& out) = 0;   // out[m] = sum_n x[n, m]
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  virtual void mul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  virtual void scale(const Tensor& x, double alpha, const Tensor& out) = 0;
  // out[i] = alpha * scalar[0]: the backward of a reduction to one element.
  virtual void expand_scalar(const Tensor& scalar, double alpha, const Tensor& out) = 0;
  virtual void relu_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void relu_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) = 0;
  virtual void sum(const Tensor& x, const Tensor& out) = 0;  // out[0] = sum of all x
  // Row-wise over the last dimension of a [n, c] tensor.
  virtual void log_softmax_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) = 0;
  // out[0] = -mean_n logp[n, labels[n]]; labels are int32 in [0, c).
  virtual void nll_loss_forward(const Tensor& logp, const Tensor& labels, const Tensor& out) = 0;
  virtual void nll_loss_backward(const Tensor& dout, const Tensor& labels, const Tensor& dlogp) = 0;
  // The fused backward of cross_entropy(logits) = nll(log_softmax(logits)):
  // dlogits = dout[0] * (softmax - onehot(labels)) / n, from the saved log-probabilities.
  virtual void cross_entropy_backward(const Tensor& dout, const Tensor& logp, const Tensor& labels,
                                      const Tensor& dlogits) = 0;
  virtual void argmax(const Tensor& x, const Tensor& out) = 0;  // [n, c] -> int32 [n]
  virtual void fill(const Tensor& t, double value) = 0;
  // Counter-based (Philox) random numbers: element i uses counter offset + i, so every backend
  // produces the same numbers for the same seed.
  virtual void fill_uniform(const Tensor& t, double low, double high, uint64_t seed,
                            uint64_t offset) = 0;
  virtual void fill_normal(const Tensor& t, double mean, double std, uint64_t seed,
                           uint64_t offset) = 0;
  // momentum_buf is read only when `first_step` is false and always written when momentum != 0.
  virtual void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf,
                          const SgdParams& p, bool first_step) = 0;
  virtual void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                           const Tensor& v, const AdamParams& p, int64_t step) = 0;
};

// The compute-op overrides, declared once for every backend class: a backend header writes
// NNLAB_BACKEND_COMPUTE_OPS inside its class and defines each op in the op family's file.
#define NNLAB_BACKEND_COMPUTE_OPS                                                                 \
  void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b,           \
            double beta, const Tensor& c) override;                                               \
  void bias_add(const Tensor& y, const Tensor& bias) override;                                    \
  void sum_dim0(const Tensor& x, const Tensor& out) override;                                     \
  void add(const Tensor& a, const Tensor& b, const Tensor& out) override;                         \
  void mul(const Tensor& a, const Tensor& b, const Tensor& out) override;                         \
  void scale(const Tensor& x, double alpha, const Tensor& out) override;                          \
  void expand_scalar(const Tensor& scalar, double alpha, const Tensor& out) override;             \
  void relu_forward(const Tensor& x, const Tensor& y) override;                                   \
  void relu_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override;               \
  void sum(const Tensor& x, const Tensor& out) override;                                          \
  void log_softmax_forward(const Tensor& x, const Tensor& y) override;                            \
  void log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override;        \
  void nll_loss_forward(const Tensor& logp, const Tensor& labels, const Tensor& out) override;    \
  void nll_loss_backward(const Tensor& dout, const Tensor& labels, const Tensor& dlogp) override; \
  void cross_entropy_backward(const Tensor& dout, const Tensor& logp, const Tensor& labels,       \
                              const Tensor& dlogits) override;                                    \
  void argmax(const Tensor& x, const Tensor& out) override;                                       \
  void fill(const Tensor& t, double value) override;                                              \
  void fill_uniform(const Tensor& t, double low, double high, uint64_t seed, uint64_t offset)     \
      override;                                                                                   \
  void fill_normal(const Tensor& t, double mean, double std, uint64_t seed, uint64_t offset)      \
      override;                                                                                   \
  void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf,            \
                  const SgdParams& p, bool first_step) override;                                  \
  void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,     \
                   const AdamParams& p, int64_t step) override;

// Throws std::runtime_error "backend 'X' does not support op Y for dtype Z" unless supported.
void require_op(const Backend& backend, Op op, DType dtype);

}  // namespace nnlab
