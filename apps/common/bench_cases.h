// bench_ops' table: each op at shapes taken from the models (the MLP, LeNet on CIFAR-10,
// ResNet-18 at 224x224) and GEMM at square sizes, with the work each call does. FLOPs count
// multiply-adds as 2; bytes are the compulsory traffic (each input read once, each output
// written once), so GB/s is a lower bound on what the memory system moved.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nnlab/core/backend.h"

namespace nnlab::apps {

struct BenchCase {
  std::string model;  // where the shape comes from: mlp, lenet, resnet18, square
  std::string op;     // the Backend method, e.g. conv2d_backward_filter
  std::string shape;  // what a reader needs to recognise the layer
  Op id;              // asked of Backend::supports
  double flops = 0, bytes = 0;
  bool gpu_only = false;  // too large for the CPU backends in a bench run
  // Allocates the operands on a backend and returns the call to time.
  std::function<std::function<void()>(Backend&)> prepare;
};

std::vector<BenchCase> bench_cases();

// GEMM at square sizes (bench_cases, and bench_ops' hand-written variants); the sizes above
// kLargestCpuSquareGemm run only on GPUs.
inline const std::vector<int64_t> kSquareGemmSizes = {128, 256, 512, 1024, 2048, 4096};
constexpr int64_t kLargestCpuSquareGemm = 1024;

}  // namespace nnlab::apps
