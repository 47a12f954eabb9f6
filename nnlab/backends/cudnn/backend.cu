// The cudnn backend's life: library handles on the backend's stream, status checks, the
// precision switch, and the registry's entry points (instance.h).
#include <cstdio>
#include <stdexcept>

#include "nnlab/backends/cuda/instance.h"
#include "nnlab/backends/cudnn/backend.h"
#include "nnlab/backends/cudnn/instance.h"

namespace nnlab::cudnn {

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                             ": " + cublasGetStatusString(status));
}

void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  char detail[512] = "";
  cudnnGetLastErrorString(detail, sizeof detail);  // cuDNN 9's explanation, when it has one
  throw std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                           ": " + cudnnGetErrorString(status) + (detail[0] ? std::string(" (") + detail + ")" : ""));
}

TensorDesc::TensorDesc(int64_t n, int64_t c, int64_t h, int64_t w, cudnnDataType_t type) {
  NNLAB_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
  cudnnStatus_t status = cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, type, int(n), int(c),
                                                    int(h), int(w));
  if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyTensorDescriptor(desc);  // no destructor runs
  NNLAB_CUDNN_CHECK(status);
}
TensorDesc::~TensorDesc() { cudnnDestroyTensorDescriptor(desc); }

ConvPlan::~ConvPlan() {
  if (w) cudnnDestroyFilterDescriptor(w);
}

// A constructor that throws runs no destructor: what it made so far is released here.
CudnnBackend::CudnnBackend() {
  try {
    NNLAB_CUBLAS_CHECK(cublasCreate(&cublas_));
    NNLAB_CUBLAS_CHECK(cublasSetStream(cublas_, stream()));
    NNLAB_CUDNN_CHECK(cudnnCreate(&cudnn_));
    NNLAB_CUDNN_CHECK(cudnnSetStream(cudnn_, stream()));
  } catch (...) {
    release_handles();
    throw;
  }
}

CudnnBackend::~CudnnBackend() { release_handles(); }

void CudnnBackend::release_handles() {  // errors ignored: nothing to do about them here
  plans_.clear();
  descs_.clear();
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublas_) cublasDestroy(cublas_);
  cudnn_ = nullptr;
  cublas_ = nullptr;
}

std::string CudnnBackend::device() const {
  return CudaBackend::device() + ", cuBLAS " + std::to_string(CUBLAS_VER_MAJOR) + "." +
         std::to_string(CUBLAS_VER_MINOR) + " + cuDNN " + std::to_string(cudnnGetVersion());
}

std::string CudnnBackend::set_precision(Precision p) {
  if (p != precision_) plans_.clear();  // algorithms were chosen for the other math mode
  precision_ = p;
  int major = 0;
  NNLAB_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
  if (p == Precision::TF32 && major < 8)
    return "tf32 asked, fp32 used (TF32 tensor cores need compute capability 8.0, this GPU has " +
           std::to_string(major) + ".x)";
  return p == Precision::TF32 ? "tf32 (cuBLAS and cuDNN tensor cores, fp32 accumulation)"
                              : "fp32 (tensor cores off in cuBLAS and cuDNN)";
}

Tensor CudnnBackend::workspace(size_t bytes) {
  if (bytes == 0) return Tensor();
  return Tensor::empty(Shape{int64_t((bytes + 3) / 4)}, DType::F32, *this);
}

TensorDesc& CudnnBackend::desc_for(int64_t n, int64_t c, int64_t h, int64_t w, DType dtype) {
  auto& slot = descs_[{{n, c, h, w}, dtype}];
  if (!slot) {
    if (!cudnn_dtype(dtype))
      throw std::logic_error(std::string("cudnn: no tensor descriptor for ") + dtype_name(dtype) +
                             " here (float32 or float16)");
    slot = std::make_unique<TensorDesc>(n, c, h, w, dtype == DType::F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT);
  }
  return *slot;
}

}  // namespace nnlab::cudnn

namespace nnlab::cudnn {

Backend& backend() {
  static auto* b = new cudnn::CudnnBackend;  // never destroyed (registry.cpp)
  return *b;
}

std::string unavailable_reason() { return cuda::unavailable_reason(); }

}  // namespace nnlab::cudnn
