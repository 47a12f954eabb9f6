// GFLOP/s of the backend's gemm on square n x n matrices, C = A B into a preallocated C (the
// same measurement as bench/torch_cnn.py gemm: torch.mm with out=): one warm-up call, then the
// best of `repeats` timed calls.   usage: gemm_speed N [BACKEND] [THREADS] [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "nnlab/backends/registry.h"
#include "nnlab/core/random.h"

using namespace nnlab;

namespace {
int run(int argc, char** argv) {
  const int64_t n = std::stoll(argv[1]);
  Backend& be = get_backend(argc > 2 ? argv[2] : "cpu");
  if (argc > 3) be.set_threads(std::stoi(argv[3]));
  const int repeats = argc > 4 ? std::stoi(argv[4]) : 5;
  Generator gen(0);
  Tensor a = Tensor::empty(Shape{n, n}, DType::F32, be), b = Tensor::empty(Shape{n, n}, DType::F32, be),
         c = Tensor::empty(Shape{n, n}, DType::F32, be);
  normal_(a, 0, 1, gen);
  normal_(b, 0, 1, gen);
  be.gemm(false, false, 1.0, a, b, 0.0, c);
  be.synchronize();
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    be.gemm(false, false, 1.0, a, b, 0.0, c);
    be.synchronize();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::printf("{\"framework\": \"nnlab %s\", \"what\": \"gemm %lld\", \"gflops\": %.1f}\n", be.name().c_str(),
              (long long)n, 2.0 * double(n) * double(n) * double(n) / best / 1e9);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: gemm_speed N [BACKEND] [THREADS] [REPEATS]\n");
    return 2;
  }
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_speed: %s\n", e.what());
    return 1;
  }
}
