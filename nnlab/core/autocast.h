// Autocast: mixed-precision training as PyTorch's torch.autocast does it. Inside an
// AutocastGuard the functional ops (nnlab/core/ops.h) choose the dtype of their own inputs:
//
//   16-bit list  matmul, linear, conv2d: inputs cast to the autocast dtype (float16 or
//                bfloat16); the backends multiply them exactly and accumulate in float32, and
//                the output is 16-bit. Where the memory saving and the tensor cores are.
//   float32 list log_softmax, nll_loss, cross_entropy, sum, mean: inputs cast to float32,
//                output float32 (exp, log and long sums need float32's range and precision).
//   promote      add, mul: operands of different floating dtypes meet in the wider one.
//   the rest     relu, scale, dropout, the pools and batch_norm2d run in their input's dtype,
//                so activations stay 16-bit between the GEMMs and convolutions; batch norm
//                keeps its statistics and parameters in float32 (ops.def).
//
// These are AMP's lists (torch/csrc/autograd/autocast_mode.cpp) for the ops nnlab has. Only
// float32 tensors are lowered (float64 passes untouched, as in PyTorch). Parameters stay
// float32 ("master weights"): a parameter's 16-bit copy is made once per autocast region and
// reused by every op that asks for it (PyTorch's cast cache), and its gradient flows back
// through the cast into the float32 .grad the optimizer reads. Loss scaling for float16 is
// nnlab/optim/grad_scaler.h. Autocast is per thread, like grad mode.
#pragma once
#include <utility>

#include "nnlab/core/tensor.h"

namespace nnlab {

class AutocastGuard {
 public:
  // dtype is float16 or bfloat16; a disabled guard turns autocast off inside it.
  explicit AutocastGuard(DType dtype, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool previous_enabled_;
  DType previous_dtype_;
};

bool autocast_enabled();
DType autocast_dtype();  // meaningful while autocast_enabled()

namespace autocast {
// What the ops call on their floating inputs; each returns its argument untouched when
// autocast is off (or the tensor is undefined, or not of a dtype the rule converts).
Tensor to_lower(const Tensor& t);    // the 16-bit list: float32 -> the autocast dtype
Tensor to_float32(const Tensor& t);  // the float32 list: 16-bit -> float32
std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b);  // both to the wider
}  // namespace autocast

}  // namespace nnlab
