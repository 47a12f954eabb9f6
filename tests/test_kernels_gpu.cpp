// The same kernel sources in one binary, built twice: nvcc's (nnlab::cuda) and the
// simulator's (nnlab::cuda_sim). On a machine with a GPU each kernel runs on both and the
// results must agree within float tolerance; without one (no device, or no driver: CUDA
// error 35) the test says so and skips.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nnlab/backends/cuda/api.h"
#include "nnlab/core/philox.h"
#include "nnlab/sim/runtime.h"


namespace {
namespace sr = nnlab::sim::runtime;

bool gpu_present() {
  int count = 0;  // left untouched when the call fails
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    MESSAGE("skipping GPU kernels: no usable GPU (CUDA error "
            << int(err) << ": " << std::string(cudaGetErrorString(err)) << ", " << count
            << " devices)");
    return false;
  }
  return true;
}

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(nnlab::philox::uniform(seed, i, -1, 1));
  return v;
}

// Runs `run(a, b, out)` on the GPU and on the simulator with the same inputs.
template <typename GpuRun, typename SimRun>
void compare(const std::vector<float>& a, const std::vector<float>& b, size_t out_n, GpuRun gpu,
             SimRun sim, double tolerance) {
  float *ga, *gb, *gout, *sa, *sb, *sout;
  REQUIRE(cudaMalloc(&ga, a.size() * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&gb, b.size() * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&gout, out_n * 4) == cudaSuccess);
  cudaMemcpy(ga, a.data(), a.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(gb, b.data(), b.size() * 4, cudaMemcpyHostToDevice);
  sr::cudaMalloc(&sa, a.size() * 4);
  sr::cudaMalloc(&sb, b.size() * 4);
  sr::cudaMalloc(&sout, out_n * 4);
  sr::cudaMemcpy(sa, a.data(), a.size() * 4, sr::cudaMemcpyHostToDevice);
  sr::cudaMemcpy(sb, b.data(), b.size() * 4, sr::cudaMemcpyHostToDevice);
  gpu(ga, gb, gout);
  sim(sa, sb, sout);
  std::vector<float> from_gpu(out_n), from_sim(out_n);
  REQUIRE(cudaMemcpy(from_gpu.data(), gout, out_n * 4, cudaMemcpyDeviceToHost) == cudaSuccess);
  sr::cudaMemcpy(from_sim.data(), sout, out_n * 4, sr::cudaMemcpyDeviceToHost);
  for (size_t i = 0; i < out_n; ++i)
    REQUIRE(std::abs(from_gpu[i] - from_sim[i]) <= tolerance * (1 + std::abs(from_sim[i])));
  for (float* p : {ga, gb, gout}) cudaFree(p);
  for (float* p : {sa, sb, sout}) sr::cudaFree(p);
}
}  // namespace

TEST_CASE("gpu: every kernel agrees with its simulator build") {
  if (!gpu_present()) return;
  int m = 37, n = 29, k = 53;
  auto a = random_values(size_t(m * k), 1), b = random_values(size_t(k * n), 2);
  compare(
      a, b, size_t(m * n),
      [&](float* x, float* y, float* o) { nnlab::cuda::sgemm_tiled(x, y, o, m, n, k); },
      [&](float* x, float* y, float* o) { nnlab::cuda_sim::sgemm_tiled(x, y, o, m, n, k); },
      1e-5);
  compare(
      a, b, size_t(m * n),
      [&](float* x, float* y, float* o) { nnlab::cuda::sgemm_naive(x, y, o, m, n, k); },
      [&](float* x, float* y, float* o) { nnlab::cuda_sim::sgemm_naive(x, y, o, m, n, k); },
      1e-5);
  compare(
      a, b, size_t(7 * 100),
      [&](float* x, float*, float* o) { nnlab::cuda::softmax_rows(x, o, 7, 100); },
      [&](float* x, float*, float* o) { nnlab::cuda_sim::softmax_rows(x, o, 7, 100); }, 1e-5);
  compare(
      a, b, b.size(),
      [&](float* x, float* y, float* o) {
        cudaMemcpy(o, y, b.size() * 4, cudaMemcpyDeviceToDevice);
        nnlab::cuda::axpy(2.0f, x, o, int(b.size()));
      },
      [&](float* x, float* y, float* o) {
        nnlab::sim::runtime::cudaMemcpy(o, y, b.size() * 4,
                                        nnlab::sim::runtime::cudaMemcpyDeviceToDevice);
        nnlab::cuda_sim::axpy(2.0f, x, o, int(b.size()));
      },
      1e-6);
}
