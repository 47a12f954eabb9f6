// bench_ops: every op at the shapes the models use, on each backend (and each GEMM variant of
// the hand-written kernels), in microseconds per call, GFLOP/s, GB/s and % of the roofline:
// the machine's peak measured at start (a large GEMM for FLOP/s, a large copy for bytes/s),
// and for each op the lower of peak FLOP/s and its arithmetic intensity x peak bytes/s. An op
// far below its roofline is where an implementation can still gain.
//
// Timing: one warm-up call, then calls until --min-time has passed (at least one), each timed
// by the backend's Stopwatch (CUDA events on GPUs, after an L2 flush; a steady clock after
// synchronising on CPUs).
//
// --metrics: each cuda-sim row also makes one call on the observed build of the kernels
// (nnlab/sim/observe.h) and shows what its kernels did: global load/store requests and
// sectors per request against the ideal, shared-memory wavefronts and bank conflicts, active
// lanes, barriers, atomics, and each kernel's theoretical occupancy per architecture; and the
// time cuda-sim's timing model predicts for that call on --gpu (docs/gpu_model.md), labelled
// predicted: the row's own time on cuda-sim is the simulator's CPU time, not a GPU's.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "apps/common/bench_cases.h"
#include "apps/common/flags.h"
#include "apps/common/sim_counters.h"
#include "nnlab/backends/cpu/gemm_variants.h"
#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/registry.h"
#include "nnlab/config.h"


using namespace nnlab;
using namespace nnlab::apps;

namespace {
// The process's CPU time instead of the wall clock, for CPU backends on a shared machine: a
// 1-thread op's CPU time is what it cost whatever else ran (with more threads it includes
// their waiting, so it is an upper bound).
class CpuTimeStopwatch : public Stopwatch {
 public:
  void start() override { start_ = now(); }
  double stop_seconds() override { return now() - start_; }

 private:
  static double now() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  double start_ = 0;
};
bool g_cpu_time = false;  // --cpu-time

std::unique_ptr<Stopwatch> stopwatch_for(Backend& b) {
  if (g_cpu_time && !b.is_gpu()) return std::make_unique<CpuTimeStopwatch>();
  return b.make_stopwatch();
}

struct Timing {
  double seconds_per_call = 0;
  int calls = 0;
};

// flush: on GPUs a buffer larger than L2, rewritten before each timed call so that no call
// finds its operands left in cache by the previous one.
Timing time_call(Backend& b, const std::function<void()>& call, double min_seconds, int max_calls,
                 const Tensor& flush) {
  call();  // warm-up: first-touch allocation, caches, lazy initialisation
  auto stopwatch = stopwatch_for(b);
  double total = 0;
  int calls = 0;
  do {
    if (flush.defined()) b.fill(flush, 0.0);
    stopwatch->start();
    call();
    total += stopwatch->stop_seconds();
    ++calls;
  } while (total < min_seconds && calls < max_calls);
  return {total / calls, calls};
}

struct Peak {
  double flops = 0, bytes = 0;  // per second
  std::string how;
};

// The device's peak as this backend reaches it: the best of a few large square GEMMs, and a
// copy far larger than any cache (so the memory roof is DRAM's: an op whose operands stay in
// a CPU cache can pass 100%).
Peak measure_peak(Backend& b, double min_seconds, const Tensor& flush) {
  Peak p;
  int64_t best_n = 0;
  for (int64_t n : b.is_gpu() ? std::vector<int64_t>{2048, 4096} : std::vector<int64_t>{256, 512, 1024}) {
    Tensor x = Tensor::full(Shape{n, n}, 1.0, DType::F32, b), y = Tensor::zeros(Shape{n, n}, DType::F32, b);
    Tensor c = Tensor::empty(Shape{n, n}, DType::F32, b);
    Timing gemm = time_call(b, [&] { b.gemm(false, false, 1.0, x, y, 0.0, c); }, min_seconds, 50, flush);
    double flops = 2.0 * double(n * n) * double(n) / gemm.seconds_per_call;
    if (flops > p.flops) p.flops = flops, best_n = n;
  }
  int64_t elements = (b.is_gpu() ? int64_t(1) << 28 : int64_t(1) << 26);  // 1 GiB / 256 MiB
  Tensor src = Tensor::zeros(Shape{elements}, DType::F32, b), dst = Tensor::empty(Shape{elements}, DType::F32, b);
  size_t bytes = size_t(elements) * 4;
  Timing copy = time_call(b, [&] { b.copy(dst.raw(), src.raw(), bytes); }, min_seconds, 50, Tensor());
  p.bytes = 2.0 * double(bytes) / copy.seconds_per_call;  // read + write
  p.how = b.name() + " GEMM " + std::to_string(best_n) + "^3 (best size), " +
          std::to_string(bytes >> 20) + " MiB copy";
  return p;
}

struct Row {
  std::string backend, model, op, shape;
  double flops = 0, bytes = 0;
  Timing timing;
  const Peak* peak = nullptr;
  std::optional<SimCounters> counters;  // --metrics on cuda-sim
  double gflops() const { return flops / timing.seconds_per_call / 1e9; }
  double gbps() const { return bytes / timing.seconds_per_call / 1e9; }
  bool compute_bound() const { return flops / bytes > peak->flops / peak->bytes; }
  double roofline_percent() const {
    double attainable = std::min(peak->flops, flops / bytes * peak->bytes);
    return 100.0 * (flops / timing.seconds_per_call) / attainable;
  }
};

using GemmCall = std::function<void(bool, bool, int64_t, int64_t, int64_t, const float*, const float*, float*)>;
struct GemmVariantRow {
  std::string name;
  GemmCall call;
  int64_t largest = INT64_MAX;  // the largest square size worth its time
};

// The teaching GEMM variants of a hand-written-kernel backend, by name.
template <typename Variant, typename F>
std::vector<GemmVariantRow> variants_of(F gemm_variant) {
  std::vector<GemmVariantRow> out;
  for (auto [name, v] : {std::pair{"naive", Variant::Naive}, std::pair{"tiled", Variant::Tiled},
                         std::pair{"register-blocked", Variant::RegisterBlocked},
                         std::pair{"vectorized", Variant::Vectorized}})
    out.push_back({name, [gemm_variant, v = v](bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                               const float* a, const float* b, float* c) {
                     gemm_variant(v, ta, tb, m, n, k, 1.0f, a, b, 0.0f, c);
                   }});
  return out;
}

// The cpu backend's steps (nnlab/backends/cpu/gemm_variants.h), on its thread count; the naive one
// stops at 512^3 (at 1024^3 a call takes seconds).
std::vector<GemmVariantRow> cpu_variants(Backend& cpu) {
  std::vector<GemmVariantRow> out;
  for (const auto& [name, v] : nnlab::cpu::gemm_variants())
    out.push_back({name,
                   [&cpu, v = v](bool, bool, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                                 float* c) { nnlab::cpu::gemm_variant(v, m, n, k, a, b, c, cpu.threads()); },
                   v == nnlab::cpu::GemmVariant::Naive ? int64_t(512) : INT64_MAX});
  return out;
}

std::vector<GemmVariantRow> gemm_variants(const std::string& backend) {
  if (backend == "cuda-sim") return variants_of<cuda_sim::GemmVariant>(cuda_sim::gemm_variant);
  if (backend == "cuda-sim observed")
    return variants_of<cuda_sim_observed::GemmVariant>(cuda_sim_observed::gemm_variant);
#if NNLAB_HAVE_CUDA
  if (backend == "cuda") return variants_of<cuda::GemmVariant>(cuda::gemm_variant);
#endif
  if (backend == "cpu") return cpu_variants(get_backend("cpu"));
  return {};
}

// The tensor-core variant beside them (float16 operands and result, float32 sums; the WMMA
// kernel behind gemm_16), on the backends with hand-written kernels: n x n x n, no transposes.
// The simulator runs each warp's matrix operations lane by lane, slowly: up to 256^3 there.
constexpr int64_t kLargestSimulatedWmma = 256;
using Gemm16Call = std::function<void(int64_t n, const uint16_t* a, const uint16_t* b, uint16_t* c)>;
template <typename Kind, typename F>
Gemm16Call wmma_of(F gemm_16) {
  return [gemm_16](int64_t n, const uint16_t* a, const uint16_t* b, uint16_t* c) {
    gemm_16(Kind::Half, false, false, n, n, n, 1.0f, a, b, 0.0f, c);
  };
}
Gemm16Call wmma_gemm(const std::string& backend) {
  if (backend == "cuda-sim") return wmma_of<cuda_sim::Float16Kind>(cuda_sim::gemm_16);
  if (backend == "cuda-sim observed") return wmma_of<cuda_sim_observed::Float16Kind>(cuda_sim_observed::gemm_16);
#if NNLAB_HAVE_CUDA
  if (backend == "cuda") return wmma_of<cuda::Float16Kind>(cuda::gemm_16);
#endif
  return {};
}

void print_row(const Row& r) {
  std::printf("%-9s %-9s %-24s %-46s %11.1f %9.2f %8.2f %-7s %7.1f%%\n", r.backend.c_str(),
              r.model.c_str(), r.op.c_str(), r.shape.substr(0, 46).c_str(),
              1e6 * r.timing.seconds_per_call, r.gflops(), r.gbps(),
              r.compute_bound() ? "compute" : "memory", r.roofline_percent());
  if (r.counters) print_sim_counters(*r.counters, "    ");
  std::fflush(stdout);
}

void write_csv(const std::string& path, const std::vector<Row>& rows, bool metrics) {
  std::ofstream out(path);
  out << "backend,model,op,shape,us_per_call,calls,gflops,gbps,bound,roofline_percent";
  if (metrics)
    for (const auto& v : sim::metric_values(sim::Counters())) out << "," << v.name;
  if (metrics) out << ",predicted_gpu,predicted_us";
  out << "\n";
  for (const auto& r : rows) {
    out << r.backend << "," << r.model << "," << r.op << ",\"" << r.shape << "\","
        << 1e6 * r.timing.seconds_per_call << "," << r.timing.calls << "," << r.gflops() << ","
        << r.gbps() << "," << (r.compute_bound() ? "compute" : "memory") << ","
        << r.roofline_percent();
    if (metrics)
      for (const auto& v : sim::metric_values(r.counters ? r.counters->total : sim::Counters()))
        out << "," << (r.counters ? std::to_string(v.value) : "");
    if (metrics)
      out << "," << (r.counters && r.counters->gpu ? r.counters->gpu->key : "") << ","
          << (r.counters && r.counters->gpu ? std::to_string(1e6 * r.counters->predicted_seconds) : "");
    out << "\n";
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_json(const std::string& path, const std::vector<Row>& rows,
                const std::map<std::string, Peak>& peaks) {
  nlohmann::json j;
  for (const auto& [device, p] : peaks)
    j["peaks"][device] = {{"gflops", p.flops / 1e9}, {"gbps", p.bytes / 1e9}, {"measured_with", p.how}};
  j["rows"] = nlohmann::json::array();
  for (const auto& r : rows)
    j["rows"].push_back({{"backend", r.backend}, {"model", r.model}, {"op", r.op},
                         {"shape", r.shape}, {"us_per_call", 1e6 * r.timing.seconds_per_call},
                         {"calls", r.timing.calls}, {"gflops", r.gflops()}, {"gbps", r.gbps()},
                         {"bound", r.compute_bound() ? "compute" : "memory"},
                         {"roofline_percent", r.roofline_percent()}});
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].counters) j["rows"][i]["counters"] = to_json(*rows[i].counters);
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Time every op at the models' shapes on each backend, against the measured peak.",
               "bench_ops");
  std::vector<std::string> backends;
  // The contenders: reference (the oracle, ~100x slower) and cuda-sim only when named.
  for (const auto& b : available_backends())
    if (b != "cuda-sim" && b != "reference") backends.push_back(b);
  std::string filter, csv_path, json_path, gpu_key = "t4";
  double min_seconds = 0.2;
  int threads = 0;
  bool metrics = false;
  // The default depends on the machine, so --help (and docs/cli.md) describes it in words.
  app.add_option("--backends", backends,
                 "backends to time, in order (default: every one available here but reference "
                 "and cuda-sim, which run only when named)")
      ->delimiter(',');
  app.add_option("--filter", filter, "only rows whose model, op or shape contains this text");
  app.add_option("--min-time", min_seconds, "seconds of timed calls per row (at least one call)")
      ->check(finite_in({0, 60, false, false}))
      ->capture_default_str();
  app.add_option("--threads", threads, "compute threads of the cpu backend (0: all cores)")
      ->check(CLI::Range(0, 256));
  app.add_flag("--cpu-time", g_cpu_time,
               "time CPU backends by the process's CPU time, not the wall clock (for a shared "
               "machine; with several threads it includes their waiting)");
  app.add_option("--csv", csv_path, "also write the rows as CSV to this path");
  app.add_option("--json", json_path, "also write the rows and peaks as JSON to this path");
  app.add_flag("--metrics", metrics,
               "cuda-sim rows: also count what the kernels of one call did (memory requests, sectors, bank "
               "conflicts, lanes, barriers, atomics, occupancy; nnlab/sim/observe.h), and the time cuda-sim's timing "
               "model predicts for --gpu");
  app.add_option("--gpu", gpu_key,
                 "with --metrics: the GPU of the predicted times, a key of nnlab/sim/gpus.json (docs/gpu_model.md)")
      ->capture_default_str();
  return run_app(app, argc, argv, [&] {
    for (const auto& b : backends) get_backend(b);  // unknown names fail before any timing
    if (metrics && std::find(backends.begin(), backends.end(), "cuda-sim") == backends.end())
      throw std::invalid_argument("--metrics counts the memory accesses of cuda-sim's kernels: add cuda-sim to --backends");
    if (metrics) get_observed_sim_backend();  // says why not, where the build cannot observe
    const sim::GpuSpec* gpu = metrics ? &sim::find_gpu(gpu_key) : nullptr;
    if (threads > 0) get_backend("cpu").set_threads(threads);
    auto wanted = [&](const std::string& model, const std::string& op, const std::string& shape) {
      return filter.empty() || (model + " " + op + " " + shape).find(filter) != std::string::npos;
    };
    // Peaks per device: the CPU's from the cpu backend, the GPU's from the best GPU backend.
    std::map<std::string, Peak> peaks;
    std::map<std::string, Tensor> flush;
    for (const auto& name : backends) {
      Backend& b = get_backend(name);
      if (b.is_gpu()) flush[name] = Tensor::empty(Shape{int64_t(1) << 26}, DType::F32, b);  // 256 MiB
    }
    Peak cpu = measure_peak(get_backend("cpu"), min_seconds, Tensor());
    peaks["cpu"] = cpu;
    for (const auto& name : backends) {
      Backend& b = get_backend(name);
      if (!b.is_gpu()) continue;
      Peak p = measure_peak(b, min_seconds, flush[name]);
      if (p.flops > peaks["gpu"].flops) peaks["gpu"] = p;
    }
    for (const auto& [device, p] : peaks)
      std::printf("# %s peak: %.1f GFLOP/s, %.1f GB/s (%s; balance %.1f FLOP/byte)\n", device.c_str(),
                  p.flops / 1e9, p.bytes / 1e9, p.how.c_str(), p.flops / p.bytes);
    std::printf("# cuda-sim rows are CPU time of a simulation, never GPU times\n");
    if (g_cpu_time) std::printf("# CPU rows and the CPU peak: process CPU time, not wall time\n");
    std::printf("%-9s %-9s %-24s %-46s %11s %9s %8s %-7s %8s\n", "backend", "model", "op", "shape",
                "us/call", "GFLOP/s", "GB/s", "bound", "roofline");
    std::vector<Row> rows;
    auto cases = bench_cases();
    for (const auto& name : backends) {
      Backend& b = get_backend(name);
      const Peak* peak = &peaks[b.is_gpu() ? "gpu" : "cpu"];
      Tensor flush_buffer = flush.count(name) ? flush[name] : Tensor();  // none on CPUs
      for (const auto& c : cases) {
        if (!wanted(c.model, c.op, c.shape) || (c.gpu_only && !b.is_gpu())) continue;
        if (!b.supports(c.id, DType::F32)) {
          std::printf("%-9s %-9s %-24s not supported by this backend\n", name.c_str(), c.model.c_str(), c.op.c_str());
          continue;
        }
        auto call = c.prepare(b);
        rows.push_back({name, c.model, c.op, c.shape, c.flops, c.bytes,
                        time_call(b, call, min_seconds, 10000, flush_buffer), peak, std::nullopt});
        if (metrics && name == "cuda-sim") {
          auto observed = c.prepare(get_observed_sim_backend());
          rows.back().counters = count_sim_kernels(observed, gpu);
        }
        print_row(rows.back());
      }
      // The hand-written GEMM variants side by side on the square sizes.
      auto variants = gemm_variants(name), observed_variants = gemm_variants(name + " observed");
      for (size_t v = 0; v < variants.size(); ++v) {
        const auto& [variant, gemm, largest] = variants[v];
        for (int64_t n : kSquareGemmSizes) {
          std::string op = "gemm[" + variant + "]", shape = "square " + std::to_string(n) + "^3";
          if (!wanted("square", op, shape) || (n > kLargestCpuSquareGemm && !b.is_gpu()) || n > largest) continue;
          Tensor x = Tensor::full(Shape{n, n}, 1.0, DType::F32, b), y = Tensor::full(Shape{n, n}, 1.0, DType::F32, b),
                 out = Tensor::empty(Shape{n, n}, DType::F32, b);
          auto* px = static_cast<const float*>(x.raw());
          auto* py = static_cast<const float*>(y.raw());
          auto* po = static_cast<float*>(out.raw());
          auto call = [&, n = n, gemm = gemm] { gemm(false, false, n, n, n, px, py, po); };
          rows.push_back({name, "square", op, shape, 2.0 * double(n * n) * double(n), 12.0 * double(n * n),
                          time_call(b, call, min_seconds, 10000, flush_buffer), peak, std::nullopt});
          if (metrics && v < observed_variants.size()) {
            const GemmCall& observed = observed_variants[v].call;
            rows.back().counters = count_sim_kernels([&] { observed(false, false, n, n, n, px, py, po); }, gpu);
          }
          print_row(rows.back());
        }
      }
      if (Gemm16Call wmma = wmma_gemm(name)) {
        Gemm16Call observed_wmma = wmma_gemm(name + " observed");
        for (int64_t n : kSquareGemmSizes) {
          std::string op = "gemm[wmma fp16]", shape = "square " + std::to_string(n) + "^3";
          if (!wanted("square", op, shape) || (n > kLargestSimulatedWmma && !b.is_gpu())) continue;
          Tensor x = Tensor::full(Shape{n, n}, 1.0, DType::F16, b), y = Tensor::full(Shape{n, n}, 1.0, DType::F16, b),
                 out = Tensor::empty(Shape{n, n}, DType::F16, b);
          auto* px = static_cast<const uint16_t*>(x.raw());
          auto* py = static_cast<const uint16_t*>(y.raw());
          auto* po = static_cast<uint16_t*>(out.raw());
          auto call = [&, n = n] { wmma(n, px, py, po); };
          rows.push_back({name, "square", op, shape, 2.0 * double(n * n) * double(n), 6.0 * double(n * n),
                          time_call(b, call, min_seconds, 10000, flush_buffer), peak, std::nullopt});
          if (metrics && observed_wmma)
            rows.back().counters = count_sim_kernels([&] { observed_wmma(n, px, py, po); }, gpu);
          print_row(rows.back());
        }
      }
    }
    if (!csv_path.empty()) write_csv(csv_path, rows, metrics);
    if (!json_path.empty()) write_json(json_path, rows, peaks);
    return int(kOk);
  });
}
