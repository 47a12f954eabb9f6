// cuDNN's convolution algorithm for one shape and one direction (forward, backward data,
// backward filter). cuDNN's heuristics (cudnnGetConvolution*Algorithm_v7) rank the algorithms,
// each under a math type; the first that is deterministic, fits kMaxConvWorkspaceBytes and
// uses a math the precision allows (FMA only for fp32; tensor cores allowed for tf32) is kept,
// and its math type is set on that direction's own descriptor: cuDNN sizes an algorithm's
// workspace, and runs it, under the descriptor's math type, which must be the one the
// heuristics ranked it under. Heuristics, not timed trials (cudnnFind*), so the choice is the
// same run to run. Host logic over descriptors, which need no GPU: tests check it anywhere
// cuDNN is installed.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

#include "nnlab/backends/cudnn/status.h"
#include "nnlab/core/backend.h"

namespace nnlab::cudnn {

inline constexpr size_t kMaxConvWorkspaceBytes = size_t(512) << 20;

// One direction of a convolution plan: its descriptor, the algorithm chosen and its workspace.
template <typename Algo>
struct ConvDirection {
  cudnnConvolutionDescriptor_t conv = nullptr;
  Algo algo{};
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;  // cuDNN's size for (algo, math), queried on `conv`
  ConvDirection() = default;
  ConvDirection(const ConvDirection&) = delete;
  ConvDirection& operator=(const ConvDirection&) = delete;
  ~ConvDirection() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

// Tensor cores are allowed for tf32, and for float16 data (mixed precision: the products of
// 16-bit values are exact and the sums float32, cuDNN's PSEUDO_HALF_CONFIG); fp32 forbids them.
inline bool tensor_cores_allowed(Precision precision, bool half_data) {
  return precision == Precision::TF32 || half_data;
}

// The direction's descriptor of the window (float32 compute whatever the data), its math
// type limiting the heuristics to what the precision allows.
template <typename Algo>
void describe(ConvDirection<Algo>& d, const Window2d& win, bool tensor_cores) {
  NNLAB_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d.conv));
  NNLAB_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
      d.conv, int(win.pad_h), int(win.pad_w), int(win.stride_h), int(win.stride_w),
      int(win.dilation_h), int(win.dilation_w), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  NNLAB_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, tensor_cores ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
}

// The first ranked result usable under the precision, deterministic and small enough.
template <typename Perf>
const Perf& pick(const Perf* ranked, int count, bool tensor_cores, const char* what) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = ranked[i];
    bool math_ok = tensor_cores || r.mathType == CUDNN_FMA_MATH;
    if (r.status == CUDNN_STATUS_SUCCESS && r.determinism == CUDNN_DETERMINISTIC && math_ok &&
        r.memory <= kMaxConvWorkspaceBytes)
      return r;
  }
  throw std::runtime_error(std::string("cudnn: no deterministic ") + what +
                           " algorithm for this shape within " +
                           std::to_string(kMaxConvWorkspaceBytes >> 20) + " MiB of workspace");
}

// Picks from the heuristics' ranking and sets the pick's math type on the direction's
// descriptor; the caller then queries the workspace on that descriptor.
template <typename Perf, typename Algo>
void choose(ConvDirection<Algo>& d, const Perf* ranked, int count, bool tensor_cores,
            const char* what) {
  const Perf& p = pick(ranked, count, tensor_cores, what);
  NNLAB_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, p.mathType));
  d.algo = p.algo;
  d.math = p.mathType;
}

// Names for NNLAB_CUDNN_VERBOSE's report, as cudnn_ops.h and cudnn_graph.h spell them.
inline std::string algo_name(cudnnConvolutionFwdAlgo_t a) {
  static const char* names[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return unsigned(a) < 8 ? names[a] : "algo " + std::to_string(int(a));
}
inline std::string algo_name(cudnnConvolutionBwdDataAlgo_t a) {
  static const char* names[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD",
                                "WINOGRAD_NONFUSED"};
  return unsigned(a) < 6 ? names[a] : "algo " + std::to_string(int(a));
}
inline std::string algo_name(cudnnConvolutionBwdFilterAlgo_t a) {
  static const char* names[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD",
                                "WINOGRAD_NONFUSED", "FFT_TILING"};
  return unsigned(a) < 7 ? names[a] : "algo " + std::to_string(int(a));
}
inline std::string math_name(cudnnMathType_t m) {
  static const char* names[] = {"DEFAULT_MATH", "TENSOR_OP_MATH", "TENSOR_OP_MATH_ALLOW_CONVERSION",
                                "FMA_MATH"};
  return unsigned(m) < 4 ? names[m] : "math " + std::to_string(int(m));
}

// "forward IMPLICIT_PRECOMP_GEMM, FMA_MATH, workspace 0 bytes (heuristics ranked: ...)": the
// choice and every result the heuristics gave, for the first run on a new GPU.
template <typename Perf, typename Algo>
std::string describe_choice(const char* what, const ConvDirection<Algo>& d, const Perf* ranked,
                            int count) {
  std::string s = std::string(what) + " " + algo_name(d.algo) + ", " + math_name(d.math) +
                  ", workspace " + std::to_string(d.workspace) + " bytes (heuristics ranked:";
  for (int i = 0; i < count; ++i) {
    const Perf& r = ranked[i];
    s += std::string(i ? ";" : "") + " " + algo_name(r.algo) + " " + math_name(r.mathType) +
         (r.determinism == CUDNN_DETERMINISTIC ? " deterministic " : " nondeterministic ") +
         std::to_string(r.memory) + " bytes" +
         (r.status == CUDNN_STATUS_SUCCESS ? "" : std::string(" ") + cudnnGetErrorString(r.status));
  }
  return s + ")";
}

}  // namespace nnlab::cudnn
