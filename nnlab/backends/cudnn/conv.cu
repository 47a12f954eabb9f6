// Convolution through cuDNN. A plan per shape (tensor and filter descriptors, and per
// direction a convolution descriptor, an algorithm and its workspace; nnlab/backends/cudnn/
// conv_algo.h) is built on first use. Workspaces come from the caching allocator, so after the
// first step they cost nothing. NNLAB_CUDNN_VERBOSE=1 prints each plan's choices on stderr.
#include <cstdio>
#include <cstdlib>

#include "nnlab/backends/cudnn/backend.h"

namespace nnlab::cudnn {
namespace {
constexpr int kMaxAlgos = 16;

bool verbose() {
  static const bool on = [] {
    const char* v = std::getenv("NNLAB_CUDNN_VERBOSE");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}
}  // namespace

ConvPlan& CudnnBackend::plan_for(const Tensor& x, const Tensor& w, const Tensor& y,
                                  const Window2d& win) {
  ConvKey key{x.shape().dims(), w.shape().dims(), y.shape().dims(),
              {win.kernel_h, win.kernel_w, win.stride_h, win.stride_w, win.pad_h, win.pad_w,
               win.dilation_h, win.dilation_w},
              precision_, x.dtype()};
  auto& slot = plans_[key];
  if (slot) return *slot;
  bool half = x.dtype() == DType::F16;
  cudnnDataType_t type = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  bool tensor_cores = tensor_cores_allowed(precision_, half);
  auto plan = std::make_unique<ConvPlan>();
  plan->x = std::make_unique<TensorDesc>(x.dim(0), x.dim(1), x.dim(2), x.dim(3), type);
  plan->y = std::make_unique<TensorDesc>(y.dim(0), y.dim(1), y.dim(2), y.dim(3), type);
  plan->bias = std::make_unique<TensorDesc>(1, w.dim(0), 1, 1, type);
  NNLAB_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w));
  NNLAB_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, type, CUDNN_TENSOR_NCHW, int(w.dim(0)),
                                               int(w.dim(1)), int(w.dim(2)), int(w.dim(3))));
  int count = 0;

  auto& fw = plan->forward;
  describe(fw, win, tensor_cores);
  cudnnConvolutionFwdAlgoPerf_t fwd[kMaxAlgos];
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, plan->x->desc, plan->w, fw.conv,
                                                           plan->y->desc, kMaxAlgos, &count, fwd));
  choose(fw, fwd, count, tensor_cores, "forward");
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cudnn_, plan->x->desc, plan->w, fw.conv,
                                                            plan->y->desc, fw.algo, &fw.workspace));
  std::string report = verbose() ? describe_choice("forward", fw, fwd, count) : "";

  auto& bd = plan->backward_data;
  describe(bd, win, tensor_cores);
  cudnnConvolutionBwdDataAlgoPerf_t bwd_data[kMaxAlgos];
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      cudnn_, plan->w, plan->y->desc, bd.conv, plan->x->desc, kMaxAlgos, &count, bwd_data));
  choose(bd, bwd_data, count, tensor_cores, "backward-data");
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
      cudnn_, plan->w, plan->y->desc, bd.conv, plan->x->desc, bd.algo, &bd.workspace));
  if (verbose()) report += "\n  " + describe_choice("backward data", bd, bwd_data, count);

  auto& bf = plan->backward_filter;
  describe(bf, win, tensor_cores);
  cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[kMaxAlgos];
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      cudnn_, plan->x->desc, plan->y->desc, bf.conv, plan->w, kMaxAlgos, &count, bwd_filter));
  choose(bf, bwd_filter, count, tensor_cores, "backward-filter");
  NNLAB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
      cudnn_, plan->x->desc, plan->y->desc, bf.conv, plan->w, bf.algo, &bf.workspace));
  if (verbose()) {
    report += "\n  " + describe_choice("backward filter", bf, bwd_filter, count);
    std::fprintf(stderr, "cudnn: conv x %s w %s -> y %s, stride %lldx%lld, pad %lldx%lld, %s, %s:\n  %s\n",
                 x.shape().str().c_str(), w.shape().str().c_str(), y.shape().str().c_str(),
                 (long long)win.stride_h, (long long)win.stride_w, (long long)win.pad_h,
                 (long long)win.pad_w, precision_name(precision_), dtype_name(x.dtype()), report.c_str());
  }
  slot = std::move(plan);
  return *slot;
}

void CudnnBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                   const Tensor& y, const Window2d& win) {
  if (y.numel() == 0) return;
  if (!cudnn_dtype(y.dtype())) return CudaBackend::conv2d_forward(x, w, bias, y, win);
  ConvPlan& plan = plan_for(x, w, y, win);
  Tensor ws = workspace(plan.forward.workspace);
  const float one = 1.0f, zero = 0.0f;
  NNLAB_CUDNN_CHECK(cudnnConvolutionForward(cudnn_, &one, plan.x->desc, x.raw(), plan.w, w.raw(),
                                            plan.forward.conv, plan.forward.algo,
                                            ws.defined() ? ws.raw() : nullptr,
                                            plan.forward.workspace, &zero, plan.y->desc, y.raw()));
  if (bias.defined())
    NNLAB_CUDNN_CHECK(cudnnAddTensor(cudnn_, &one, plan.bias->desc, bias.raw(), &one, plan.y->desc, y.raw()));
}

void CudnnBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                         const Window2d& win) {
  if (dx.numel() == 0) return;
  if (!cudnn_dtype(dx.dtype())) return CudaBackend::conv2d_backward_data(dy, w, dx, win);
  ConvPlan& plan = plan_for(dx, w, dy, win);
  Tensor ws = workspace(plan.backward_data.workspace);
  const float one = 1.0f, zero = 0.0f;
  NNLAB_CUDNN_CHECK(cudnnConvolutionBackwardData(
      cudnn_, &one, plan.w, w.raw(), plan.y->desc, dy.raw(), plan.backward_data.conv,
      plan.backward_data.algo, ws.defined() ? ws.raw() : nullptr, plan.backward_data.workspace,
      &zero, plan.x->desc, dx.raw()));
}

void CudnnBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                                           const Window2d& win) {
  if (dw.numel() == 0) return;
  if (!cudnn_dtype(dw.dtype())) return CudaBackend::conv2d_backward_filter(dy, x, dw, win);
  ConvPlan& plan = plan_for(x, dw, dy, win);
  Tensor ws = workspace(plan.backward_filter.workspace);
  const float one = 1.0f, zero = 0.0f;
  NNLAB_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      cudnn_, &one, plan.x->desc, x.raw(), plan.y->desc, dy.raw(), plan.backward_filter.conv,
      plan.backward_filter.algo, ws.defined() ? ws.raw() : nullptr,
      plan.backward_filter.workspace, &zero, plan.w, dw.raw()));
}

// The bias gradient of a convolution: dy summed over n, h and w per channel (16 bits: the
// hand-written path, which sums in float32).
void CudnnBackend::channel_sum(const Tensor& x, const Tensor& out) {
  if (x.numel() == 0 || x.rank() != 4 || is_reduced_float(x.dtype())) {
    CudaBackend::channel_sum(x, out);
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  TensorDesc& xd = desc_for(x.dim(0), x.dim(1), x.dim(2), x.dim(3));
  TensorDesc& cd = desc_for(1, x.dim(1), 1, 1);
  NNLAB_CUDNN_CHECK(cudnnConvolutionBackwardBias(cudnn_, &one, xd.desc, f(x), &zero, cd.desc, f(out)));
}

}  // namespace nnlab::cudnn
