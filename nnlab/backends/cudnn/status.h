// Status checks of cuBLAS and cuDNN calls: a failure throws std::runtime_error with the call,
// the caller's file and line and the library's message (nnlab/backends/cudnn/backend.cu).
#pragma once
#include <cublas_v2.h>
#include <cudnn.h>

namespace nnlab::cudnn {

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line);
void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line);
#define NNLAB_CUBLAS_CHECK(call) ::nnlab::cudnn::check_cublas((call), #call, __FILE__, __LINE__)
#define NNLAB_CUDNN_CHECK(call) ::nnlab::cudnn::check_cudnn((call), #call, __FILE__, __LINE__)

}  // namespace nnlab::cudnn
