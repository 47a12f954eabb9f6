// The GPU backends end to end: `cuda` (hand-written kernels) and `cudnn` (cuBLAS + cuDNN)
// reproduce the recorded golden MLP losses and LeNet's losses on cpu, in fp32; cudnn in tf32
// stays within TF32's error. (Every op's parity on them is the parity_gpu test.) Without a
// GPU each case names the reason and skips.
#include <doctest/doctest.h>

#include "nnlab/backends/registry.h"
#include "tests/golden.h"

using namespace nnlab;
using nnlab::testing::first_losses;
using nnlab::testing::kGoldenLosses;

namespace {
bool usable(const std::string& name) {
  std::string why = unavailable_reason(name);
  if (!why.empty()) MESSAGE("skipping " << name << ": " << why);
  return why.empty();
}

void check_close(const std::vector<float>& got, const std::vector<float>& want, double epsilon) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(epsilon));
  }
}
}  // namespace

TEST_CASE("gpu: golden MLP losses and LeNet's losses on cpu, in fp32") {
  for (const std::string& name : known_backends()) {
    if (!runs_on_gpu(name) || !usable(name)) continue;
    CAPTURE(name);
    MESSAGE(name << ": " << get_backend(name).device() << ", precision "
                 << get_backend(name).set_precision(Precision::FP32));
    check_close(first_losses(name, int(kGoldenLosses.size())), kGoldenLosses, 1e-4);
    check_close(first_losses(name, 3, 0, "lenet", 16), first_losses("cpu", 3, 0, "lenet", 16), 1e-4);
  }
}

TEST_CASE("gpu: cudnn in tf32 stays within TF32's error of cpu") {
  if (!usable("cudnn")) return;
  Backend& be = get_backend("cudnn");
  MESSAGE("cudnn precision: " << be.set_precision(Precision::TF32));
  std::vector<float> tf32 = first_losses("cudnn", 3, 0, "lenet", 16);
  be.set_precision(Precision::FP32);
  check_close(tf32, first_losses("cpu", 3, 0, "lenet", 16), 1e-2);  // 10-bit mantissas
}
