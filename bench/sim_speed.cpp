// How long the CUDA simulator takes to run kernels, against plain CPU loops doing the same
// work: a 256^3 tiled SGEMM (64 blocks of 1024 threads, 16 barriers each) and a 1M-element
// axpy (3907 blocks of 256 threads, no barrier), on 1 and 2 OS threads; then the same with every
// memory access observed (nnlab/sim/observe.h): counting only, and counting with memcheck,
// racecheck and initcheck; and the counters of the four GEMM variants at 256^3. These are CPU
// timings of a simulation, never GPU timings.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "nnlab/backends/cuda/api.h"
#include "nnlab/sim/observe.h"
#include "nnlab/sim/runtime.h"
#include "nnlab/sim/sim.h"

using namespace nnlab::sim::runtime;
namespace k = nnlab::cuda_sim;
namespace ok = nnlab::cuda_sim_observed;
namespace sim = nnlab::sim;

// What one source line did: its memory requests per kind and its barriers.
std::string site_line(const sim::Counters& c) {
  std::string out;
  for (auto space : {sim::Space::Global, sim::Space::Shared})
    for (auto op : {sim::AccessOp::Load, sim::AccessOp::Store, sim::AccessOp::Atomic}) {
      const sim::MemoryCounters& m = c.at(space, op);
      if (!m.requests) continue;
      char text[160];
      std::snprintf(text, sizeof text, "%s%s %s %llu req x %.2f %s (ideal %.2f), %.1f lanes", out.empty() ? "" : "; ",
                    space == sim::Space::Global ? "global" : "shared",
                    op == sim::AccessOp::Load ? "ld" : op == sim::AccessOp::Store ? "st" : "atomic",
                    static_cast<unsigned long long>(m.requests), sim::per_request(m),
                    space == sim::Space::Global ? "sectors" : "wavefronts", sim::ideal_per_request(m),
                    sim::lanes_per_request(m));
      out += text;
    }
  if (c.barriers) out += (out.empty() ? "" : "; ") + std::to_string(c.barriers) + " __syncthreads (warp-level)";
  return out;
}

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
  std::string why = sim::observation_unavailable_reason();
  using Row = std::pair<std::string, std::function<void()>>;
  std::vector<Row> rows = {{"sim: tiled SGEMM 256^3", [&] { k::sgemm_tiled(da, db, dc, n, n, n); }},
                           {"sim: naive SGEMM 256^3", [&] { k::sgemm_naive(da, db, dc, n, n, n); }},
                           {"sim: axpy 1M elements", [&] { k::axpy(2.5f, dx, dy, elements); }}};
  auto observed = [&](const char* what, sim::Checks checks, std::function<void()> f) {
    return Row{what, [checks, f] {
                 sim::Recording recording(checks);
                 f();
               }};
  };
  if (why.empty()) {
    rows.push_back(observed("counting: tiled SGEMM 256^3", {}, [&] { ok::sgemm_tiled(da, db, dc, n, n, n); }));
    rows.push_back(observed("counting: naive SGEMM 256^3", {}, [&] { ok::sgemm_naive(da, db, dc, n, n, n); }));
    rows.push_back(observed("counting: axpy 1M elements", {}, [&] { ok::axpy(2.5f, dx, dy, elements); }));
    rows.push_back(observed("all checks: tiled SGEMM 256^3", sim::Checks::all(),
                            [&] { ok::sgemm_tiled(da, db, dc, n, n, n); }));
    rows.push_back(observed("all checks: axpy 1M elements", sim::Checks::all(),
                            [&] { ok::axpy(2.5f, dx, dy, elements); }));
  }
  std::printf("%-34s %10s %10s\n", "work", "1 thread", "2 threads");
  for (const auto& [name, run] : rows) {
    double t[2];
    for (int threads : {1, 2}) {
      sim::set_threads(threads);
      t[threads - 1] = best_ms(run, name.rfind("sim:", 0) == 0 ? 5 : 2);
    }
    std::printf("%-34s %8.1f ms %8.1f ms\n", name.c_str(), t[0], t[1]);
  }
  sim::set_threads(0);
  std::printf("%-34s %8.1f ms\n", "plain CPU loop: SGEMM 256^3", cpu_gemm);
  std::printf("%-34s %8.1f ms\n", "plain CPU loop: axpy 1M elements", cpu_axpy);
  if (!why.empty()) {
    std::printf("\nno counters: cuda-sim cannot observe memory accesses in this build: %s\n", why.c_str());
  } else {
    // The teaching GEMM variants side by side (ok::gemm_variant, as bench_ops --metrics shows),
    // then per source line.
    std::printf("\nthe four GEMM variants at 256^3, counted (CPU ms with counting, 2 threads):\n");
    using V = ok::GemmVariant;
    for (auto [name, v] : {std::pair{"naive", V::Naive}, std::pair{"tiled", V::Tiled},
                           std::pair{"register-blocked", V::RegisterBlocked}, std::pair{"vectorized", V::Vectorized}}) {
      sim::Recording recording;
      auto t = std::chrono::steady_clock::now();
      ok::gemm_variant(v, false, false, n, n, n, 1.0f, da, db, 0.0f, dc);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
      const sim::LaunchMetrics& m = recording.launches().front();
      std::printf("%-17s %8.1f ms  %s\n%-17s %11s  %s\n", name, ms, sim::metrics_line(m.total).c_str(), "", "",
                  sim::occupancy_line(m.occupancy).c_str());
      for (const auto& [where, c] : m.by_line()) std::printf("    %-22s %s\n", (where.file + ":" + std::to_string(where.line)).c_str(), site_line(c).c_str());
    }
  }
  for (float* p : {da, db, dc, dx, dy}) cudaFree(p);
}
