// Backend: the op table every implementation provides (reference loops, Eigen + OpenMP,
// CUDA kernels, cuBLAS/cuDNN, the CUDA simulator). Tensors passed to a backend are
// contiguous and live on it; outputs are preallocated by the caller (core/ops), so a
// backend only computes. supports() answers honestly: core/ops asks it before every call
// and a missing op is an error naming the backend and the op, never a silent fallback.
#pragma once
#include <cstdint>
#include <memory>
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
  Conv2dForward,
  Conv2dBackwardData,
  Conv2dBackwardFilter,
  ChannelSum,
  MaxPool2dForward,
  MaxPool2dBackward,
  AvgPool2dForward,
  AvgPool2dBackward,
  BatchNormForward,
  BatchNormBackward,
  DropoutMask,
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

// The arithmetic of a backend's matrix products and convolutions (--precision). fp32: IEEE
// single precision throughout. tf32: products on tensor cores with 10-bit mantissas and fp32
// accumulation (NVIDIA Ampere and later), as torch.backends.cuda.matmul.allow_tf32.
enum class Precision { FP32, TF32 };
const char* precision_name(Precision p);

// Geometry of a 2-D convolution or pooling window over NCHW tensors.
struct Window2d {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t out_size(int64_t in, bool height) const;  // floor((in + 2p - d(k-1) - 1) / s) + 1
};

// Measures the time of the work a backend does between start() and stop_seconds(), which
// waits for that work to finish. CPU backends compute synchronously, so a steady clock after
// synchronize() serves; GPU backends record events on their stream.
class Stopwatch {
 public:
  virtual ~Stopwatch() = default;
  virtual void start() = 0;
  virtual double stop_seconds() = 0;
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
  virtual std::unique_ptr<Stopwatch> make_stopwatch();  // default: synchronize + steady clock
  // Asks for a precision; returns what the backend really uses, e.g. "fp32 (cpu has no tf32
  // mode)". Only backends with tensor-core libraries (cudnn) have tf32.
  virtual std::string set_precision(Precision p);

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
  // out[0] = -mean_n logp[n, labels[n]]; labels are int32 in [0, c) (core/ops checks them
  // before any backend sees them).
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

  // Convolution, NCHW, groups = 1: y[n, k, p, q] = sum_{c, r, s} x[n, c, ...] w[k, c, r, s]
  // (+ bias[k] when bias is defined). The backward ops write (not accumulate) dx and dw.
  virtual void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                              const Window2d& win) = 0;
  virtual void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                    const Window2d& win) = 0;
  virtual void conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                                      const Window2d& win) = 0;
  virtual void channel_sum(const Tensor& x, const Tensor& out) = 0;  // [n, c, h, w] -> [c]
  // Max pooling keeps the flat index (within the input plane) of each maximum for backward;
  // padding never wins (it is -infinity). dx is written, overlapping windows accumulate.
  virtual void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,
                                  const Window2d& win) = 0;
  virtual void max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Tensor& dx,
                                   const Window2d& win) = 0;
  // Average pooling counts padding in the divisor (PyTorch's count_include_pad=True).
  virtual void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Window2d& win) = 0;
  virtual void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Window2d& win) = 0;
  // Batch norm over (n, h, w) per channel. Training: batch statistics normalise and the
  // running statistics move by `momentum` (variance unbiased, as PyTorch). Evaluation: the
  // running statistics normalise. Both save the mean and 1/sqrt(var + eps) they used.
  virtual void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var,
                                  bool training, double momentum, double eps, const Tensor& y,
                                  const Tensor& save_mean, const Tensor& save_invstd) = 0;
  // With batch statistics the mean and variance depend on x and their gradient flows too;
  // with running statistics (evaluation) they are constants. `eps` is the forward's (cuDNN
  // asks for it again; the others use save_invstd, which holds it).
  virtual void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   const Tensor& save_mean, const Tensor& save_invstd,
                                   bool batch_statistics, double eps, const Tensor& dx,
                                   const Tensor& dweight, const Tensor& dbias) = 0;
  // mask[i] = 0 with probability p, else 1 / (1 - p), from Philox counter offset + i.
  virtual void dropout_mask(const Tensor& mask, double p, uint64_t seed, uint64_t offset) = 0;
};

// The compute-op overrides, declared once for every backend class: a backend header writes
// NNLAB_BACKEND_COMPUTE_OPS inside its class and defines each op in the op family's file.
#define NNLAB_BACKEND_COMPUTE_OPS \
  void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta, const Tensor& c) override; \
  void bias_add(const Tensor& y, const Tensor& bias) override; \
  void sum_dim0(const Tensor& x, const Tensor& out) override; \
  void add(const Tensor& a, const Tensor& b, const Tensor& out) override; \
  void mul(const Tensor& a, const Tensor& b, const Tensor& out) override; \
  void scale(const Tensor& x, double alpha, const Tensor& out) override; \
  void expand_scalar(const Tensor& scalar, double alpha, const Tensor& out) override; \
  void relu_forward(const Tensor& x, const Tensor& y) override; \
  void relu_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override; \
  void sum(const Tensor& x, const Tensor& out) override; \
  void log_softmax_forward(const Tensor& x, const Tensor& y) override; \
  void log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override; \
  void nll_loss_forward(const Tensor& logp, const Tensor& labels, const Tensor& out) override; \
  void nll_loss_backward(const Tensor& dout, const Tensor& labels, const Tensor& dlogp) override; \
  void cross_entropy_backward(const Tensor& dout, const Tensor& logp, const Tensor& labels, const Tensor& dlogits) override; \
  void argmax(const Tensor& x, const Tensor& out) override; \
  void fill(const Tensor& t, double value) override; \
  void fill_uniform(const Tensor& t, double low, double high, uint64_t seed, uint64_t offset) override; \
  void fill_normal(const Tensor& t, double mean, double std, uint64_t seed, uint64_t offset) override; \
  void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf, const SgdParams& p, bool first_step) override; \
  void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const AdamParams& p, int64_t step) override; \
  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, const Window2d& win) override; \
  void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx, const Window2d& win) override; \
  void conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw, const Window2d& win) override; \
  void channel_sum(const Tensor& x, const Tensor& out) override; \
  void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const Window2d& win) override; \
  void max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Tensor& dx, const Window2d& win) override; \
  void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Window2d& win) override; \
  void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Window2d& win) override; \
  void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var, bool training, double momentum, double eps, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd) override; \
  void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd, bool batch_statistics, double eps, const Tensor& dx, const Tensor& dweight, const Tensor& dbias) override; \
  void dropout_mask(const Tensor& mask, double p, uint64_t seed, uint64_t offset) override;

// Throws std::runtime_error "backend 'X' does not support op Y for dtype Z" unless supported.
void require_op(const Backend& backend, Op op, DType dtype);

}  // namespace nnlab
