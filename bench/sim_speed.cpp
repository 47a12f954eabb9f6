// How long the CUDA simulator takes to run kernels, against plain CPU loops doing the same
// work: a 256^3 tiled SGEMM (64 blocks of 1024 threads, 16 barriers each) and a 1M-element
// axpy (3907 blocks of 256 threads, no barrier), on 1 and 2 OS threads. These are CPU
// timings of a simulation, never GPU timings.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "nnlab/backends/cuda/api.h"
#include "nnlab/sim/runtime.h"
#include "nnlab/sim/sim.h"


using namespace nnlab::sim::runtime;
namespace k = nnlab::cuda_sim;

template <typename F>
double best_ms(F f, int repeats = 5) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t = std::chrono::steady_clock::now();
    f();
    best = std::min(
        best,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  return best;
}

int main() {
  const int n = 256, elements = 1 << 20;
  std::vector<float> a(size_t(n * n), 0.5f), b(size_t(n * n), 0.25f), c(size_t(n * n));
  float *da, *db, *dc, *dx, *dy;
  cudaMalloc(&da, a.size() * 4);
  cudaMalloc(&db, b.size() * 4);
  cudaMalloc(&dc, c.size() * 4);
  cudaMalloc(&dx, size_t(elements) * 4);
  cudaMalloc(&dy, size_t(elements) * 4);
  cudaMemcpy(da, a.data(), a.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * 4, cudaMemcpyHostToDevice);
  cudaMemset(dx, 0, size_t(elements) * 4);
  cudaMemset(dy, 0, size_t(elements) * 4);

  double cpu_gemm = best_ms([&] {
    for (int i = 0; i < n; ++i)
      for (int p = 0; p < n; ++p)
        for (int j = 0; j < n; ++j)
          c[size_t(i * n + j)] += a[size_t(i * n + p)] * b[size_t(p * n + j)];
  });
  std::vector<float> x(size_t(elements), 1.0f), y(size_t(elements), 2.0f);
  double cpu_axpy = best_ms([&] {
    for (int i = 0; i < elements; ++i) y[size_t(i)] = 2.5f * x[size_t(i)] + y[size_t(i)];
  });
  std::printf("%-34s %10s %10s\n", "work", "1 thread", "2 threads");
  for (auto [name, run] :
       {std::pair<const char*, std::function<void()>>{"sim: tiled SGEMM 256^3",
                                                      [&] { k::sgemm_tiled(da, db, dc, n, n, n); }},
        {"sim: naive SGEMM 256^3", [&] { k::sgemm_naive(da, db, dc, n, n, n); }},
        {"sim: axpy 1M elements", [&] { k::axpy(2.5f, dx, dy, elements); }}}) {
    double t[2];
    for (int threads : {1, 2}) {
      nnlab::sim::set_threads(threads);
      t[threads - 1] = best_ms(run);
    }
    std::printf("%-34s %8.1f ms %8.1f ms\n", name, t[0], t[1]);
  }
  std::printf("%-34s %8.1f ms\n", "plain CPU loop: SGEMM 256^3", cpu_gemm);
  std::printf("%-34s %8.1f ms\n", "plain CPU loop: axpy 1M elements", cpu_axpy);
  for (float* p : {da, db, dc, dx, dy}) cudaFree(p);
}
