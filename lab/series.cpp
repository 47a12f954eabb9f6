// The kernel lab's series, their inputs and CPU loops (series.h).
#include "lab/series.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "lab/api.h"
#include "nnlab/core/backend.h"
#include "nnlab/sim/sim.h"

namespace nnlab::lab {

double Series::compulsory_bytes(int n) const {
  double size = double(n);
  if (std::string(name) == "reduction") return 4.0 * size;
  if (std::string(name) == "sgemm") return 4.0 * 4.0 * size * size;  // A and B read, C read and written
  return 2.0 * 4.0 * size * size;                                     // read once, written once
}

double Series::flops(int n) const {
  if (std::string(name) == "sgemm") return 2.0 * double(n) * double(n) * double(n);
  if (std::string(name) == "reduction") return double(n);
  return 0;
}

const std::vector<Series>& all_series() {
  static const std::vector<Series> series = {
      {"reduction",
       "M. Harris, Optimizing Parallel Reduction in CUDA (NVIDIA, 2007), kernels 1-7",
       {{"reduce_interleaved_divergent", "interleaved addressing, divergent branches"},
        {"reduce_interleaved_strided", "interleaved addressing, strided index (bank conflicts)"},
        {"reduce_sequential", "sequential addressing"},
        {"reduce_first_add", "first add during the global load"},
        {"reduce_unroll_last_warp", "last warp unrolled (__syncwarp)"},
        {"reduce_complete_unroll<kThreads>", "completely unrolled"},
        {"reduce_multiple_per_thread<kThreads>", "several elements per thread (64 blocks)"}},
       1 << 22,
       1,
       "elements"},
      {"sgemm",
       "S. Boehm, How to Optimize a CUDA Matmul Kernel for cuBLAS-like Performance (2022), kernels 1-6",
       {{"sgemm_naive", "naive"},
        {"sgemm_global_mem_coalesce<32>", "global-memory coalescing"},
        {"sgemm_shared_mem_block<32>", "shared-memory cache blocking"},
        {"sgemm_1d_blocktiling_64x64", "1D block tiling (8 results a thread)"},
        {"sgemm_2d_blocktiling_128x128", "2D block tiling (8x8 results a thread)"},
        {"sgemm_vectorize_128x128", "vectorised memory access (float4)"}},
       4096,
       128,
       "m = n = k"},
      {"transpose",
       "M. Harris, An Efficient Matrix Transpose in CUDA C/C++ (NVIDIA blog, 2013), 32x32 blocks",
       {{"copy_matrix", "copy (the bandwidth reference)"},
        {"transpose_naive", "naive (writes strided by n)"},
        {"transpose_tiled", "shared-memory tiled (32-way bank conflicts)"},
        {"transpose_tiled_padded", "tiled with padding (conflict-free)"}},
       8192,
       32,
       "rows = columns"},
  };
  return series;
}

const std::vector<Published>& published_measurements() {
  // GFLOP/s of a 4096^3 SGEMM as milliseconds; GB/s of a 32768^2 transpose (read + write) as ms.
  auto sgemm_ms = [](double gflops) { return 2.0 * 4096.0 * 4096.0 * 4096.0 / (gflops * 1e9) * 1e3; };
  auto transpose_ms = [](double gbps) { return 2.0 * 32768.0 * 32768.0 * 4.0 / (gbps * 1e9) * 1e3; };
  static const std::vector<Published> published = {
      {"reduction", "8800-gtx", 1 << 22, {8.054, 3.456, 1.722, 0.965, 0.536, 0.381, 0.268},
       "M. Harris, Optimizing Parallel Reduction in CUDA (NVIDIA 2007), table 'Performance for 4M element "
       "reduction', as two independent transcriptions give it (the slides were not readable here)",
       "the slides' step 5 relies on warp-synchronous volatile code; the lab's uses __syncwarp"},
      {"sgemm", "rtx-a6000", 4096,
       {sgemm_ms(309.0), sgemm_ms(1986.5), sgemm_ms(2980.3), sgemm_ms(8474.7), sgemm_ms(15971.7), sgemm_ms(18237.3)},
       "github.com/siboehm/SGEMM_CUDA README @da8be69 ('GFLOPs at matrix size 4096x4096', NVIDIA A6000)", ""},
      {"sgemm", "a100", 4096,
       {sgemm_ms(292.1), sgemm_ms(3119.0), sgemm_ms(5451.9), sgemm_ms(10368.6), sgemm_ms(14155.1), sgemm_ms(15296.5)},
       "github.com/siboehm/SGEMM_CUDA README @c09b350 (NVIDIA A100, variant unstated)",
       "kernel 6 then had #pragma unroll on its k loop"},
      {"transpose", "h100", 32768,
       {transpose_ms(2000.0), transpose_ms(475.5), transpose_ms(996.1), transpose_ms(1693.4)},
       "yencal.github.io, 'Optimizing GPU Matrix Transpose' (2025-12-24; H100 SXM, 32768^2 floats, 32x32 blocks): "
       "Naive, Tiled, TiledPadded; the copy from the same author's 'How Data Type Width Affects GPU Memory "
       "Throughput' (uint32_t memcpy, 1950-2050 GB/s past the L2)",
       "the copy is a grid-stride 1-D memcpy of 4-byte words, not the lab's 32x32 copy: its row is an estimate"},
  };
  return published;
}

const Series& find_series(const std::string& name) {
  std::string known;
  for (const Series& s : all_series()) {
    if (name == s.name) return s;
    known += std::string(known.empty() ? "" : ", ") + s.name;
  }
  throw std::invalid_argument("unknown series '" + name + "'; known: " + known);
}

Kernels simulator_kernels() {
  return {cuda_sim::lab::reduction_scratch_ints, cuda_sim::lab::reduce, cuda_sim::lab::sgemm, cuda_sim::lab::transpose};
}
Kernels observed_kernels() {
  return {cuda_sim_observed::lab::reduction_scratch_ints, cuda_sim_observed::lab::reduce,
          cuda_sim_observed::lab::sgemm, cuda_sim_observed::lab::transpose};
}
#if NNLAB_LAB_CUDA
bool have_cuda_kernels() { return true; }
Kernels cuda_kernels() {
  return {cuda::lab::reduction_scratch_ints, cuda::lab::reduce, cuda::lab::sgemm, cuda::lab::transpose};
}
#else
bool have_cuda_kernels() { return false; }
Kernels cuda_kernels() { throw std::logic_error("this build compiled the kernel lab without nvcc"); }
#endif

namespace {
// A reproducible pseudo-random value in [0, 1) for element i (a 64-bit mix, as splitmix64).
double unit(uint64_t i, uint64_t stream) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + stream * 0xBF58476D1CE4E5B9ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return double((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

bool is_series(const Series& s, const char* name) { return std::strcmp(s.name, name) == 0; }

// Elements the check compares when a whole large output was written: every element up to
// this many, else evenly spaced ones (the CPU loop of a 4096^3 SGEMM alone takes minutes).
constexpr size_t kMostChecked = 1 << 16;
}  // namespace

Workload::Workload(const Series& series, int size, Backend& backend)
    : series_(series), size_(size), backend_(backend) {
  if (size <= 0 || size % series.size_multiple != 0)
    throw std::invalid_argument(std::string(series.name) + ": --size must be a positive multiple of " +
                                std::to_string(series.size_multiple) + ", got " + std::to_string(size));
  int64_t n = size;
  if (is_series(series, "reduction")) {
    ints_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) ints_[size_t(i)] = int(unit(uint64_t(i), 1) * 9) - 4;  // -4 .. 4
    in_ = Tensor::from_host(ints_, Shape{n}, backend);
    scratch_ = Tensor::empty(Shape{int64_t(simulator_kernels().reduction_scratch_ints(size))}, DType::I32, backend);
  } else if (is_series(series, "sgemm")) {
    a_.resize(size_t(n * n)), b_.resize(size_t(n * n)), c_initial_.resize(size_t(n * n));
    for (size_t i = 0; i < a_.size(); ++i) {
      a_[i] = float(unit(i, 2) * 2 - 1);
      b_[i] = float(unit(i, 3) * 2 - 1);
      c_initial_[i] = float(unit(i, 4) * 2 - 1);
    }
    a_device_ = Tensor::from_host(a_, Shape{n, n}, backend);
    b_device_ = Tensor::from_host(b_, Shape{n, n}, backend);
    c_device_ = Tensor::empty(Shape{n, n}, DType::F32, backend);
  } else {
    a_.resize(size_t(n * n));
    for (size_t i = 0; i < a_.size(); ++i) a_[i] = float(unit(i, 5));
    a_device_ = Tensor::from_host(a_, Shape{n, n}, backend);
    c_device_ = Tensor::empty(Shape{n, n}, DType::F32, backend);
  }
}

void Workload::run(const Kernels& k, int step) {
  reset();
  launch(k, step);
  backend_.synchronize();
}

void Workload::reset() {
  // The outputs back to their initial values, by launches that must run whole.
  uint64_t sample = sim::block_sample();
  sim::set_block_sample(0);
  if (is_series(series_, "sgemm"))
    backend_.copy_from_host(c_device_.raw(), c_initial_.data(), c_initial_.size() * sizeof(float));
  else if (is_series(series_, "transpose"))
    backend_.fill(c_device_, std::numeric_limits<double>::quiet_NaN());  // unwritten elements stay NaN
  backend_.synchronize();
  sim::set_block_sample(sample);
}

void Workload::launch(const Kernels& k, int step) {
  last_step_ = step;
  if (is_series(series_, "reduction"))
    result_ = k.reduce(step, in_.data<int>(), size_, scratch_.data<int>());
  else if (is_series(series_, "sgemm"))
    k.sgemm(step, size_, size_, size_, kSgemmAlpha, a_device_.data<float>(), b_device_.data<float>(), kSgemmBeta,
            c_device_.data<float>());
  else
    k.transpose(step, a_device_.data<float>(), c_device_.data<float>(), size_);
}

Check Workload::check(double fraction_run) const {
  Check out;
  if (is_series(series_, "reduction")) {
    if (fraction_run < 1.0) return {false, "a reduction cannot be checked when not all its blocks ran"};
    int got = 0;
    backend_.copy_to_host(&got, result_, sizeof got);
    int64_t want = 0;
    for (int v : ints_) want += v;
    out.ok = got == want;
    out.what = "sum " + std::to_string(got) + (out.ok ? " = " : " != ") + "the CPU loop's " + std::to_string(want);
    return out;
  }
  std::vector<float> got = c_device_.to_host<float>();
  size_t n = size_t(size_), total = got.size();
  bool sgemm = is_series(series_, "sgemm");
  // Written: changed from the initial C (sgemm), or no longer NaN (transpose).
  auto written = [&](size_t i) {
    if (!sgemm) return !std::isnan(got[i]);
    uint32_t x, y;
    std::memcpy(&x, &got[i], 4), std::memcpy(&y, &c_initial_[i], 4);
    return x != y;
  };
  size_t count = 0;
  for (size_t i = 0; i < total; ++i) count += written(i);
  size_t expected = size_t(std::llround(fraction_run * double(total)));
  // The elements to compare: the written ones, at most kMostChecked of them evenly spaced.
  std::vector<size_t> chosen;
  for (size_t i = 0; i < total; ++i)
    if (written(i)) chosen.push_back(i);
  if (chosen.size() > kMostChecked) {
    std::vector<size_t> spaced;
    for (size_t j = 0; j < kMostChecked; ++j) spaced.push_back(chosen[j * chosen.size() / kMostChecked]);
    chosen.swap(spaced);
  }
  double worst = 0;
  size_t wrong = 0;
  for (size_t i : chosen) {
    size_t row = i / n, col = i % n;
    double want, scale;
    if (sgemm) {
      double dot = 0, magnitude = 0;
      for (size_t p = 0; p < n; ++p) {
        dot += double(a_[row * n + p]) * double(b_[p * n + col]);
        magnitude += std::fabs(double(a_[row * n + p]) * double(b_[p * n + col]));
      }
      want = kSgemmAlpha * dot + kSgemmBeta * double(c_initial_[i]);
      scale = kSgemmAlpha * magnitude + kSgemmBeta * std::fabs(double(c_initial_[i]));
    } else {
      want = last_step_ == 1 ? a_[i] : a_[col * n + row];  // step 1 copies
      scale = 1;
    }
    double error = std::fabs(double(got[i]) - want) / std::max(scale, 1e-30);
    worst = std::max(worst, error);
    // float sums in another order than the loop's: rounding only (a few ulp of the magnitudes)
    wrong += error > (sgemm ? 1e-5 : 0.0);
  }
  out.ok = count == expected && wrong == 0;
  char text[256];
  std::snprintf(text, sizeof text, "%zu of %zu elements written (%s %zu), %zu compared with the CPU loop: %s (max relative error %.1e)",
                count, total, count == expected ? "as expected:" : "expected", expected, chosen.size(),
                wrong ? "WRONG" : "all match", worst);
  out.what = text;
  return out;
}

}  // namespace nnlab::lab
