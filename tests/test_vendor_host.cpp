// The cudnn backend's host logic that needs cuDNN's headers and descriptors but no GPU: the
// choice of a convolution's algorithm and math type per direction (nnlab/backends/cudnn/
// conv_algo.h). Built where cuDNN is found; runs without a GPU.
#include <doctest/doctest.h>

#include <string>

#include "nnlab/backends/cudnn/conv_algo.h"

using namespace nnlab;
using namespace nnlab::cudnn;

namespace {
template <typename Perf, typename Algo>
Perf result(Algo algo, cudnnMathType_t math, bool deterministic, size_t memory,
            cudnnStatus_t status = CUDNN_STATUS_SUCCESS) {
  Perf r{};
  r.algo = algo;
  r.status = status;
  r.time = 1.0f;
  r.memory = memory;
  r.determinism = deterministic ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC;
  r.mathType = math;
  return r;
}
using Fwd = cudnnConvolutionFwdAlgoPerf_t;
using BwdData = cudnnConvolutionBwdDataAlgoPerf_t;

cudnnMathType_t math_of(cudnnConvolutionDescriptor_t conv) {
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  REQUIRE(cudnnGetConvolutionMathType(conv, &math) == CUDNN_STATUS_SUCCESS);
  return math;
}

Window2d window_3x3() {
  Window2d win;
  win.kernel_h = win.kernel_w = 3;
  win.pad_h = win.pad_w = 1;
  return win;
}

// As cuDNN's heuristics might rank them: unusable ones first, then tensor cores, then FMA.
const Fwd kRanked[] = {
    result<Fwd>(CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_TENSOR_OP_MATH, false, 0),
    result<Fwd>(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, CUDNN_TENSOR_OP_MATH, true,
                kMaxConvWorkspaceBytes + 1),
    result<Fwd>(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, CUDNN_TENSOR_OP_MATH, true, 0,
                CUDNN_STATUS_NOT_SUPPORTED),
    result<Fwd>(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_TENSOR_OP_MATH, true, 4096),
    result<Fwd>(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_FMA_MATH, true, 0)};
}  // namespace

TEST_CASE("cudnn conv plan: tf32 keeps the tensor-core pick, with its math type on the descriptor") {
  ConvDirection<cudnnConvolutionFwdAlgo_t> d;
  describe(d, window_3x3(), tensor_cores_allowed(Precision::TF32, false));
  CHECK(math_of(d.conv) == CUDNN_DEFAULT_MATH);  // the heuristics may rank tensor-core algorithms
  choose(d, kRanked, 5, tensor_cores_allowed(Precision::TF32, false), "forward");
  CHECK(d.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
  CHECK(d.math == CUDNN_TENSOR_OP_MATH);
  // The workspace is then queried, and the convolution run, under the pair the heuristics ranked.
  CHECK(math_of(d.conv) == CUDNN_TENSOR_OP_MATH);
}

TEST_CASE("cudnn conv plan: fp32 keeps the first FMA pick") {
  ConvDirection<cudnnConvolutionFwdAlgo_t> d;
  describe(d, window_3x3(), tensor_cores_allowed(Precision::FP32, false));
  CHECK(math_of(d.conv) == CUDNN_FMA_MATH);
  choose(d, kRanked, 5, tensor_cores_allowed(Precision::FP32, false), "forward");
  CHECK(d.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
  CHECK(math_of(d.conv) == CUDNN_FMA_MATH);
}

TEST_CASE("cudnn conv plan: float16 data allows tensor cores under fp32 (mixed precision), float32 data does not") {
  CHECK(tensor_cores_allowed(Precision::FP32, true));
  CHECK_FALSE(tensor_cores_allowed(Precision::FP32, false));
  ConvDirection<cudnnConvolutionFwdAlgo_t> d;
  describe(d, window_3x3(), tensor_cores_allowed(Precision::FP32, true));
  CHECK(math_of(d.conv) == CUDNN_DEFAULT_MATH);
  choose(d, kRanked, 5, tensor_cores_allowed(Precision::FP32, true), "forward");
  CHECK(d.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
  CHECK(math_of(d.conv) == CUDNN_TENSOR_OP_MATH);
}

TEST_CASE("cudnn conv plan: each direction's descriptor carries its own pick's math type") {
  ConvDirection<cudnnConvolutionFwdAlgo_t> forward;
  ConvDirection<cudnnConvolutionBwdDataAlgo_t> backward_data;
  describe(forward, window_3x3(), tensor_cores_allowed(Precision::TF32, false));
  describe(backward_data, window_3x3(), tensor_cores_allowed(Precision::TF32, false));
  const BwdData ranked[] = {result<BwdData>(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_FMA_MATH, true, 0)};
  choose(forward, kRanked, 5, tensor_cores_allowed(Precision::TF32, false), "forward");
  choose(backward_data, ranked, 1, tensor_cores_allowed(Precision::TF32, false), "backward-data");
  CHECK(math_of(forward.conv) == CUDNN_TENSOR_OP_MATH);
  CHECK(math_of(backward_data.conv) == CUDNN_FMA_MATH);
  CHECK(describe_choice("backward data", backward_data, ranked, 1) ==
        "backward data ALGO_1, FMA_MATH, workspace 0 bytes (heuristics ranked: ALGO_1 FMA_MATH "
        "deterministic 0 bytes)");
}

TEST_CASE("cudnn conv plan: no usable algorithm is an error naming the direction and the limit") {
  ConvDirection<cudnnConvolutionFwdAlgo_t> d;
  describe(d, window_3x3(), tensor_cores_allowed(Precision::TF32, false));
  CHECK_THROWS_WITH_AS(choose(d, kRanked, 3, tensor_cores_allowed(Precision::TF32, false), "forward"),
                       "cudnn: no deterministic forward algorithm for this shape within 512 MiB of workspace",
                       std::runtime_error);
}
