// Convolution through cuDNN. A plan per shape (tensor, filter and convolution descriptors and
// the three algorithms) is built on first use: cuDNN's heuristics rank the algorithms, and the
// first one that is deterministic, fits kMaxWorkspaceBytes and uses the math the precision
// allows (FMA only for fp32; tensor cores allowed for tf32) is kept. Heuristics, not timed
// trials (cudnnFind*), so the choice is the same run to run. Workspaces come from the caching
// allocator, so after the first step they cost nothing.
#include "nnlab/backends/cudnn/backend.h"

namespace nnlab::cudnn {
namespace {
constexpr int kMaxAlgos = 16;

// The first ranked result that is usable under the precision, deterministic and small enough.
template <typename Perf>
const Perf& pick(const Perf* results, int count, Precision precision, const char* what) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    bool math_ok = precision == Precision::TF32 || r.mathType == CUDNN_FMA_MATH;
    if (r.status == CUDNN_STATUS_SUCCESS && r.determinism == CUDNN_DETERMINISTIC && math_ok &&
        r.memory <= CudnnBackend::kMaxWorkspaceBytes)
      return r;
  }
  throw std::runtime_error(std::string("cudnn: no deterministic ") + what + " algorithm for this shape within " +
                           std::to_string(CudnnBackend::kMaxWorkspaceBytes >> 20) + " MiB of workspace");
}
}  // namespace

ConvPlan& CudnnBackend::plan_for(const Tensor& x, const Tensor& w, const Tensor& y,
                                  const Window2d& win) {
  ConvKey key{x.shape().dims(), w.shape().dims(), y.shape().dims(),
              {win.kernel_h, win.kernel_w, win.stride_h, win.stride_w, win.pad_h, win.pad_w,
               win.dilation_h, win.dilation_w},
              precision_};
  auto& slot = plans_[key];
  if (slot) return *slot;
  auto plan = std::make_unique<ConvPlan>();
  plan->x = std::make_unique<TensorDesc>(x.dim(0), x.dim(1), x.dim(2), x.dim(3));
  plan->y = std::make_unique<TensorDesc>(y.dim(0), y.dim(1), y.dim(2), y.dim(3));
  plan->bias = std::make_unique<TensorDesc>(1, w.dim(0), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w));
  NNLAB_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                               int(w.dim(0)), int(w.dim(1)), int(w.dim(2)), int(w.dim(3))));
  NNLAB_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv));
  NNLAB_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
      plan->conv, int(win.pad_h), int(win.pad_w), int(win.stride_h), int(win.stride_w),
      int(win.dilation_h), int(win.dilation_w), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  NNLAB_CUDNN_CHECK(cudnnSetConvolutionMathType(
      plan->conv, precision_ == Precision::TF32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  int count = 0;

  cudnnConvolutionFwdAlgoPerf_t fwd[kMaxAlgos];
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, plan->x->desc, plan->w, plan->conv,
                                                           plan->y->desc, kMaxAlgos, &count, fwd));
  const auto& f_pick = pick(fwd, count, precision_, "forward");
  plan->forward_algo = f_pick.algo;
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cudnn_, plan->x->desc, plan->w, plan->conv,
                                                            plan->y->desc, plan->forward_algo,
                                                            &plan->forward_workspace));

  cudnnConvolutionBwdDataAlgoPerf_t bwd_data[kMaxAlgos];
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      cudnn_, plan->w, plan->y->desc, plan->conv, plan->x->desc, kMaxAlgos, &count, bwd_data));
  plan->backward_data_algo = pick(bwd_data, count, precision_, "backward-data").algo;
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
      cudnn_, plan->w, plan->y->desc, plan->conv, plan->x->desc, plan->backward_data_algo,
      &plan->backward_data_workspace));

  cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[kMaxAlgos];
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      cudnn_, plan->x->desc, plan->y->desc, plan->conv, plan->w, kMaxAlgos, &count, bwd_filter));
  plan->backward_filter_algo = pick(bwd_filter, count, precision_, "backward-filter").algo;
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
      cudnn_, plan->x->desc, plan->y->desc, plan->conv, plan->w, plan->backward_filter_algo,
      &plan->backward_filter_workspace));
  slot = std::move(plan);
  return *slot;
}

void CudnnBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                   const Tensor& y, const Window2d& win) {
  if (y.numel() == 0) return;
  ConvPlan& plan = plan_for(x, w, y, win);
  Tensor ws = workspace(plan.forward_workspace);
  const float one = 1.0f, zero = 0.0f;
  NNLAB_CUDNN_CHECK(cudnnConvolutionForward(cudnn_, &one, plan.x->desc, f(x), plan.w, f(w), plan.conv,
                                            plan.forward_algo, ws.defined() ? ws.raw() : nullptr,
                                            plan.forward_workspace, &zero, plan.y->desc, f(y)));
  if (bias.defined())
    NNLAB_CUDNN_CHECK(cudnnAddTensor(cudnn_, &one, plan.bias->desc, f(bias), &one, plan.y->desc, f(y)));
}

void CudnnBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                         const Window2d& win) {
  if (dx.numel() == 0) return;
  ConvPlan& plan = plan_for(dx, w, dy, win);
  Tensor ws = workspace(plan.backward_data_workspace);
  const float one = 1.0f, zero = 0.0f;
  NNLAB_CUDNN_CHECK(cudnnConvolutionBackwardData(
      cudnn_, &one, plan.w, f(w), plan.y->desc, f(dy), plan.conv, plan.backward_data_algo,
      ws.defined() ? ws.raw() : nullptr, plan.backward_data_workspace, &zero, plan.x->desc, f(dx)));
}

void CudnnBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                                           const Window2d& win) {
  if (dw.numel() == 0) return;
  ConvPlan& plan = plan_for(x, dw, dy, win);
  Tensor ws = workspace(plan.backward_filter_workspace);
  const float one = 1.0f, zero = 0.0f;
  NNLAB_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      cudnn_, &one, plan.x->desc, f(x), plan.y->desc, f(dy), plan.conv, plan.backward_filter_algo,
      ws.defined() ? ws.raw() : nullptr, plan.backward_filter_workspace, &zero, plan.w, f(dw)));
}

// The bias gradient of a convolution: dy summed over n, h and w per channel.
void CudnnBackend::channel_sum(const Tensor& x, const Tensor& out) {
  if (x.numel() == 0 || x.rank() != 4) {
    CudaBackend::channel_sum(x, out);
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& xd = desc_for(x.dim(0), x.dim(1), x.dim(2), x.dim(3));
  TensorDesc& cd = desc_for(1, x.dim(1), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnConvolutionBackwardBias(cudnn_, &one, xd.desc, f(x), &zero, cd.desc, f(out)));
}

}  // namespace nnlab::cudnn
