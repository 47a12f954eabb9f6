// The `cudnn` backend: the hand-written backend (backends/cuda/backend.h) with the ops that
// NVIDIA's libraries cover replaced by them -- GEMM through cuBLAS (cublasGemmEx), convolution
// forward/backward-data/backward-filter and the bias gradient, batch norm in training and
// log-softmax through cuDNN's (legacy, still shipped) API. Everything else (elementwise, the
// losses, optimizers, random fills, pooling) stays on the hand-written kernels: max pooling
// because cuDNN keeps no argmax indices (PyTorch's CUDA max pooling is its own kernel too),
// average pooling because cuDNN's backward wants the forward's input and output, which this
// interface does not keep.
//
// Descriptors are cached per shape, and each shape's convolution algorithms are chosen once
// (nnlab/backends/cudnn/conv_algo.h: cuDNN's heuristics, deterministic algorithms only, workspace at
// most kMaxWorkspaceBytes from the caching allocator; NNLAB_CUDNN_VERBOSE=1 prints each choice).
// --precision tf32 lets cuBLAS and cuDNN use TF32 tensor cores; fp32 forbids them. Mixed
// precision's 16-bit tensors: cuBLAS GEMMs in float16 and bfloat16, cuDNN convolutions and
// batch norm in float16 (float32 compute, tensor cores allowed), the rest hand-written. Every
// cuBLAS/cuDNN status is checked with the caller's file and line and the library's message.
#pragma once
#include <cublas_v2.h>
#include <cudnn.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "nnlab/backends/cuda/backend.h"
#include "nnlab/backends/cudnn/conv_algo.h"
#include "nnlab/backends/cudnn/status.h"

namespace nnlab::cudnn {
using cuda::f;

// An NCHW tensor descriptor (float32, or float16 for mixed precision), created and destroyed
// with its owner.
struct TensorDesc {
  TensorDesc(int64_t n, int64_t c, int64_t h, int64_t w, cudnnDataType_t type = CUDNN_DATA_FLOAT);
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  cudnnTensorDescriptor_t desc = nullptr;
};

// Everything cuDNN needs for one convolution shape, built once: a descriptor per direction,
// each with the math type of its own algorithm.
struct ConvPlan {
  std::unique_ptr<TensorDesc> x, y, bias;
  cudnnFilterDescriptor_t w = nullptr;
  ConvDirection<cudnnConvolutionFwdAlgo_t> forward;
  ConvDirection<cudnnConvolutionBwdDataAlgo_t> backward_data;
  ConvDirection<cudnnConvolutionBwdFilterAlgo_t> backward_filter;
  ~ConvPlan();
};

class CudnnBackend : public cuda::CudaBackend {
 public:
  CudnnBackend();
  ~CudnnBackend() override;
  std::string name() const override { return "cudnn"; }
  std::string device() const override;
  std::string set_precision(Precision p) override;

  void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta,
            const Tensor& c) override;
  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                      const Window2d& win) override;
  void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                            const Window2d& win) override;
  void conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                              const Window2d& win) override;
  void channel_sum(const Tensor& x, const Tensor& out) override;
  void log_softmax_forward(const Tensor& x, const Tensor& y) override;
  void log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override;
  void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const Tensor& running_mean, const Tensor& running_var, bool training,
                          double momentum, double eps, const Tensor& y, const Tensor& save_mean,
                          const Tensor& save_invstd) override;
  void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                           const Tensor& save_mean, const Tensor& save_invstd,
                           bool batch_statistics, double eps, const Tensor& dx,
                           const Tensor& dweight, const Tensor& dbias) override;

  static constexpr size_t kMaxWorkspaceBytes = kMaxConvWorkspaceBytes;

 private:
  // x [n, c, h, w], w [k, c, r, s], y [n, k, p, q], the window and the dtype identify a plan.
  using ConvKey = std::tuple<std::vector<int64_t>, std::vector<int64_t>, std::vector<int64_t>,
                             std::vector<int64_t>, Precision, DType>;
  ConvPlan& plan_for(const Tensor& x, const Tensor& w, const Tensor& y, const Window2d& win);
  // Cached by dims and dtype (float32 or float16).
  TensorDesc& desc_for(int64_t n, int64_t c, int64_t h, int64_t w, DType dtype = DType::F32);
  // Mixed precision through cuDNN: float16 convolutions and batch norm (float32 compute, tensor
  // cores allowed). bfloat16 ones need compute capability 8.0 and the build targets 7.5 too,
  // so bfloat16 stays on the hand-written kernels, as the WMMA GEMM does. A float16
  // convolution with bias rounds twice (the convolution's output, then cudnnAddTensor's),
  // where the hand-written one adds the bias before its single rounding. Whether cuDNN takes
  // tensors of this dtype here (float32 or float16):
  static bool cudnn_dtype(DType dtype) { return dtype == DType::F32 || dtype == DType::F16; }
  Tensor workspace(size_t bytes);  // from the caching allocator; undefined when 0 bytes
  void release_handles();          // the destructor's work, also for a constructor that fails

  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  Precision precision_ = Precision::FP32;
  std::map<ConvKey, std::unique_ptr<ConvPlan>> plans_;
  std::map<std::pair<std::vector<int64_t>, DType>, std::unique_ptr<TensorDesc>> descs_;
};

}  // namespace nnlab::cudnn
