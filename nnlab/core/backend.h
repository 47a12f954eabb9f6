// Backend: the op table every implementation provides (reference loops, Eigen + OpenMP,
// CUDA kernels, cuBLAS/cuDNN, the CUDA simulator). Tensors passed to a backend are
// contiguous and live on it; outputs are preallocated by the caller (nnlab/core/ops), so a
// backend only computes. supports() answers honestly: nnlab/core/ops asks it before every call
// and a missing op is an error naming the backend and the op, never a silent fallback.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nnlab/core/allocator.h"
#include "nnlab/core/tensor.h"

namespace nnlab {

enum class Op {
#define NNLAB_OP(Name, stem, params) Name,
#include "nnlab/core/ops.def"
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

  // Compute: one pure virtual method per op of the table (core/ops.def, documented there).
#define NNLAB_OP(Name, stem, params) virtual void stem params = 0;
#include "nnlab/core/ops.def"
};

// The ops on master weights and their gradients: optimizer updates and loss scaling's unscale.
// Mixed precision keeps those in float32 (autocast.h), so no backend offers them in 16 bits.
inline bool is_master_weight_op(Op op) {
  return op == Op::SgdUpdate || op == Op::AdamUpdate || op == Op::AmpUnscale;
}

// Throws std::runtime_error "backend 'X' does not support op Y for dtype Z" unless supported.
void require_op(const Backend& backend, Op op, DType dtype);

}  // namespace nnlab
