// Runs the custom kernel of row_l2_norm.cu on tensors of the `cuda-sim` backend (the CUDA
// simulator, any machine) under its FIFO, reversed and random thread orders, and on `cuda`
// where this build has it and a GPU exists (it says why not otherwise); every result is
// checked against a plain CPU loop. Exits 1 on a wrong result.
#include <nnlab/nnlab.h>
#include <nnlab/sim/sim.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

// The kernel's host function in each build (row_l2_norm.cu; pointers are device memory).
namespace row_norms::cuda_sim {
void row_l2_norm(const float* x, float* norms, int rows, int cols);
}
namespace row_norms::cuda {
void row_l2_norm(const float* x, float* norms, int rows, int cols);
}

using namespace nnlab;
using KernelFn = void (*)(const float*, float*, int, int);

// Runs the kernel on `be` for a [rows, cols] matrix and compares with a CPU loop in double.
bool check(Backend& be, KernelFn kernel, int rows, int cols, const std::string& what) {
  std::vector<float> values(size_t(rows) * size_t(cols));
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(std::sin(0.37 * double(i)) * 2.0);
  Tensor x = Tensor::from_host(values, Shape{rows, cols}, be);
  Tensor norms = Tensor::empty(Shape{rows}, DType::F32, be);
  kernel(x.data<float>(), norms.data<float>(), rows, cols);
  std::vector<float> got = norms.to_host<float>();  // waits for the kernel
  double worst = 0;
  for (int r = 0; r < rows; ++r) {
    double want = 0;
    for (int c = 0; c < cols; ++c) want += double(values[size_t(r) * cols + c]) * values[size_t(r) * cols + c];
    worst = std::fmax(worst, std::abs(got[size_t(r)] - std::sqrt(want)) / std::sqrt(want));
  }
  bool ok = worst <= 1e-5;  // float sums in another order than the loop's: rounding only
  std::printf("%-9s %-24s %4d x %-5d max relative error %.1e  %s\n", be.name().c_str(), what.c_str(),
              rows, cols, worst, ok ? "ok" : "WRONG");
  return ok;
}

int main() try {
  bool ok = true;
  Backend& simulator = get_backend("cuda-sim");
  const std::vector<std::pair<sim::Schedule, std::string>> orders = {
      {sim::Schedule::Fifo, "fifo order"}, {sim::Schedule::Reverse, "reversed order"},
      {sim::Schedule::Random, "random order"}};
  for (const auto& [order, name] : orders) {
    sim::set_schedule(order, /*seed=*/7);
    for (int cols : {1000, 5, 256}) ok &= check(simulator, row_norms::cuda_sim::row_l2_norm, 37, cols, name);
  }
  sim::set_schedule(sim::Schedule::Fifo);

#if EXAMPLE_KERNEL_NVCC
  std::string why_not = unavailable_reason("cuda");
  if (why_not.empty()) {
    for (int cols : {1000, 5, 256}) ok &= check(get_backend("cuda"), row_norms::cuda::row_l2_norm, 37, cols, "gpu");
  } else {
    std::printf("cuda: skipped, %s\n", why_not.c_str());
  }
#else
  std::printf("cuda: skipped, this build has no nvcc build of the kernel (nnlab without CUDA)\n");
#endif
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_kernel: %s\n", e.what());
  return 1;
}
