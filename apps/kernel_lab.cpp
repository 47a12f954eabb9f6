// kernel_lab: the kernel lab's classic series (lab/: reduction, SGEMM, transpose), step by step.
// Each step runs on the observed build of cuda-sim, is checked against a CPU loop, and its
// counters go through cuda-sim's timing model (nnlab/sim/gpu_model.h) for the GPU named by
// --gpu: per step the kernel, its counters, occupancy, the term that bounds it and every term's
// time, the predicted time and the predicted speed-up over the previous step. Predicted, never measured: where a
// GPU is present (the cuda backend), each step is also timed there (CUDA events, a warm-up,
// --repeats launches) and shown next to the prediction. Where the series has published
// measurements on that GPU (docs/gpu_model.md), they are shown side by side.
//
// Large launches are sampled: at most --sample-blocks blocks of each launch are simulated,
// spread over the grid, and their counters scaled to the whole grid (tests/test_lab.cpp shows
// that a sample gives the full run's counters where both are feasible).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "apps/common/flags.h"
#include "lab/series.h"
#include "nnlab/backends/registry.h"
#include "nnlab/sim/gpu_model.h"
#include "nnlab/sim/observe.h"
#include "nnlab/sim/sim.h"

using namespace nnlab;

namespace {
struct StepResult {
  int step = 0;
  std::string kernel;
  sim::Counters counters;  // scaled to the whole grid of every launch
  double predicted_s = 0;
  sim::Prediction terms;  // each term summed over the step's launches: why it is bound where it is
  std::string bound, occupancy;
  int launches = 0;
  bool sampled = false;
  lab::Check check;
  double measured_s = std::nan("");
};

std::string occupancy_text(const sim::Prediction& p) {
  if (!p.occupancy_known) return "unknown";
  char text[96];
  std::snprintf(text, sizeof text, "%.0f%% (%d blocks/SM, %s)", 100 * p.occupancy.fraction(), p.occupancy.blocks_per_sm,
                p.occupancy.limited_by.c_str());
  return text;
}

// The counters of a sampled launch scaled to its grid: what the line of counters shows.
sim::Counters scaled(const sim::LaunchMetrics& m) {
  double grid = double(m.grid.x) * m.grid.y * m.grid.z;
  double factor = m.simulated_blocks ? grid / double(m.simulated_blocks) : 1;
  sim::Counters c = m.total;
  if (factor == 1) return c;
  auto scale = [&](uint64_t& v) { v = uint64_t(std::llround(double(v) * factor)); };
  for (auto& space : c.memory)
    for (auto& k : space) {
      scale(k.requests), scale(k.lanes), scale(k.bytes), scale(k.transactions), scale(k.ideal);
      scale(k.l1_wavefronts), scale(k.half_warp_wavefronts);
    }
  scale(c.barriers), scale(c.barrier_lanes), scale(c.block_barriers), scale(c.warp_operations);
  scale(c.basic_blocks), scale(c.basic_block_lanes), scale(c.alu_instructions), scale(c.fp32_instructions);
  scale(c.block_sectors);
  return c;
}

std::string counters_text(const sim::Counters& c) {
  const sim::MemoryCounters &gl = c.at(sim::Space::Global, sim::AccessOp::Load),
                            &gs = c.at(sim::Space::Global, sim::AccessOp::Store);
  sim::MemoryCounters shared = c.at(sim::Space::Shared, sim::AccessOp::Load);
  shared += c.at(sim::Space::Shared, sim::AccessOp::Store);
  char text[256];
  std::snprintf(text, sizeof text,
                "global ld %.3g req x %.2f sectors, st %.3g req x %.2f; shared %.3g req x %.2f wavefronts; %.3g warp "
                "instructions",
                double(gl.requests), sim::per_request(gl), double(gs.requests), sim::per_request(gs),
                double(shared.requests), sim::per_request(shared), double(sim::warp_instructions(c)));
  return text;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app("The kernel lab's series on cuda-sim, each step checked against a CPU loop, with the time the "
               "timing model predicts for a named GPU (and the measured time where a GPU is present).",
               "kernel_lab");
  std::string series_name, gpu_key = "t4", csv_path;
  int size = 0, repeats = 20;
  uint64_t sample_blocks = 32;
  bool no_measure = false;
  std::string series_names;
  std::string default_sizes;
  for (const auto& s : lab::all_series()) {
    series_names += std::string(series_names.empty() ? "" : ", ") + s.name;
    default_sizes += std::string(default_sizes.empty() ? "" : ", ") + s.name + " " + std::to_string(s.default_size);
  }
  app.add_option("--series", series_name, "the series: " + series_names)->required();
  app.add_option("--gpu", gpu_key, "the GPU of the prediction, a key of nnlab/sim/gpus.json (or of NNLAB_GPUS's file)")
      ->capture_default_str();
  app.add_option("--size", size, "the problem size (default: " + default_sizes + ")");
  app.add_option("--sample-blocks", sample_blocks,
                 "simulate at most this many blocks of each launch and scale their counters (0: every block)")
      ->capture_default_str();
  app.add_option("--repeats", repeats, "timed launches per step on a GPU")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_flag("--no-measure", no_measure, "do not time the steps on a GPU even where one is present");
  app.add_option("--csv", csv_path, "also write the steps as CSV (step,kernel,predicted_ms,...) to this path");
  return apps::run_app(app, argc, argv, [&] {
    const lab::Series& series = lab::find_series(series_name);
    const sim::GpuSpec& gpu = sim::find_gpu(gpu_key);
    if (size == 0) size = series.default_size;
    Backend& observed = get_observed_sim_backend();  // says why not where the build cannot observe
    lab::Workload workload(series, size, observed);
    bool measure = !no_measure && lab::have_cuda_kernels() && unavailable_reason("cuda").empty();
    std::printf("# series: %s, size %d (%s); %s\n", series.name, size, series.size_means, series.source);
    std::printf("# GPU: %s (%s): predicted times from cuda-sim's counters (docs/gpu_model.md), not measured\n",
                gpu.name.c_str(), gpu.key.c_str());
    if (sample_blocks)
      std::printf("# launches of more than %llu blocks: that many simulated, their counters scaled to the grid\n",
                  static_cast<unsigned long long>(sample_blocks));
    std::printf("# measured: %s\n", measure ? ("on " + get_backend("cuda").device()).c_str()
                                          : ("no (" + (no_measure ? std::string("--no-measure")
                                                      : !lab::have_cuda_kernels() ? "built without nvcc"
                                                                                 : unavailable_reason("cuda")) + ")")
                                                .c_str());
    std::vector<StepResult> results;
    std::vector<std::string> left_out;
    for (size_t s = 0; s < series.steps.size(); ++s) {
      StepResult r;
      r.step = int(s) + 1;
      r.kernel = series.steps[s].kernel;
      workload.reset();  // before the recording: the reset's launches are not the step's
      {
        sim::Recording recording;  // no checks: a sample leaves outputs unwritten on purpose
        recording.on_launch = [&](sim::LaunchMetrics&& m) {
          sim::Prediction p = sim::predict(m, gpu);
          r.predicted_s += p.seconds;
          for (auto term : {&sim::Prediction::issue, &sim::Prediction::fp32, &sim::Prediction::lsu, &sim::Prediction::l2,
                            &sim::Prediction::dram, &sim::Prediction::latency})
            r.terms.*term += p.*term;
          r.counters += scaled(m);
          if (r.launches == 0) r.bound = p.bound, r.occupancy = occupancy_text(p);
          r.sampled |= m.simulated_blocks < uint64_t(m.grid.x) * m.grid.y * m.grid.z;
          ++r.launches;
          for (const auto& why : p.left_out)
            if (std::find(left_out.begin(), left_out.end(), why) == left_out.end()) left_out.push_back(why);
        };
        sim::set_block_sample(sample_blocks);
        workload.launch(lab::observed_kernels(), r.step);
        observed.synchronize();
        sim::set_block_sample(0);
      }
      r.check = r.sampled ? lab::Check{true, "sampled: checked by tests/test_lab.cpp at smaller sizes"}
                          : workload.check();
      if (!r.sampled && !r.check.ok)
        throw std::runtime_error("step " + std::to_string(r.step) + " (" + r.kernel + ") is wrong: " + r.check.what);
      results.push_back(r);
    }
    if (measure) {
      Backend& cuda = get_backend("cuda");
      lab::Workload on_gpu(series, size, cuda);
      for (StepResult& r : results) {
        on_gpu.run(lab::cuda_kernels(), r.step);  // warm-up, and checked
        lab::Check check = on_gpu.check();
        if (!check.ok) throw std::runtime_error("step " + std::to_string(r.step) + " on the GPU is wrong: " + check.what);
        auto watch = cuda.make_stopwatch();
        watch->start();
        for (int i = 0; i < repeats; ++i) on_gpu.launch(lab::cuda_kernels(), r.step);
        r.measured_s = watch->stop_seconds() / repeats;
      }
    }

    // The published measurements of this series on this GPU, if any (at their size).
    const lab::Published* published = nullptr;
    for (const auto& p : lab::published_measurements())
      if (series.name == std::string(p.series) && gpu.key == p.gpu) published = &p;

    std::printf("\n%-4s %-38s %-9s %12s %9s", "step", "kernel", "bound", "predicted", "speed-up");
    if (measure) std::printf(" %12s %9s", "measured", "speed-up");
    if (published) std::printf(" %14s %9s", "published", "speed-up");
    std::printf("  occupancy on %s\n", gpu.key.c_str());
    for (size_t i = 0; i < results.size(); ++i) {
      const StepResult& r = results[i];
      auto ratio = [&](double previous, double now) {
        char t[16];
        if (i == 0 || !(now > 0) || !(previous > 0)) return std::string("-");
        std::snprintf(t, sizeof t, "%.2fx", previous / now);
        return std::string(t);
      };
      std::printf("%-4d %-38s %-9s %12s %9s", r.step, r.kernel.c_str(), r.bound.c_str(),
                  sim::format_seconds(r.predicted_s).c_str(),
                  ratio(i ? results[i - 1].predicted_s : 0, r.predicted_s).c_str());
      if (measure)
        std::printf(" %12s %9s", sim::format_seconds(r.measured_s).c_str(),
                    ratio(i ? results[i - 1].measured_s : 0, r.measured_s).c_str());
      if (published) {
        double ms = published->ms[i], before = i ? published->ms[i - 1] : 0;
        std::printf(" %11.3f ms %9s", ms, ratio(before, ms).c_str());
      }
      std::printf("  %s\n", r.occupancy.c_str());
      std::printf("     %s%s\n", counters_text(r.counters).c_str(), r.launches > 1 ? (" (" + std::to_string(r.launches) + " launches)").c_str() : "");
      const sim::Prediction& t = r.terms;
      std::printf("     terms: issue %s, fp32 %s, lsu %s, l2 %s, dram %s, latency %s\n",
                  sim::format_seconds(t.issue).c_str(), sim::format_seconds(t.fp32).c_str(),
                  sim::format_seconds(t.lsu).c_str(), sim::format_seconds(t.l2).c_str(),
                  sim::format_seconds(t.dram).c_str(), sim::format_seconds(t.latency).c_str());
      std::printf("     check: %s\n", r.check.what.c_str());
    }
    double whole = results.front().predicted_s / results.back().predicted_s;
    std::printf("\nwhole series, predicted: %.2fx", whole);
    if (measure) std::printf("; measured: %.2fx", results.front().measured_s / results.back().measured_s);
    if (published)
      std::printf("; published: %.2fx (%s, size %d%s%s)", published->ms.front() / published->ms.back(), published->source,
                  published->size, *published->caveat ? "; " : "", published->caveat);
    std::printf("\n");
    if (published && published->size != size)
      std::printf("note: the published times are at size %d, the predictions at %d\n", published->size, size);
    for (const auto& why : left_out) std::printf("left out of the model: %s\n", why.c_str());

    if (!csv_path.empty()) {
      std::ofstream csv(csv_path);
      csv << "step,kernel,predicted_ms,bound,measured_ms,published_ms\n";
      for (size_t i = 0; i < results.size(); ++i) {
        const StepResult& r = results[i];
        csv << r.step << ",\"" << r.kernel << "\"," << r.predicted_s * 1e3 << "," << r.bound << ",";
        if (measure) csv << r.measured_s * 1e3;
        csv << ",";
        if (published && published->size == size) csv << published->ms[i];
        csv << "\n";
      }
      if (!csv) throw std::runtime_error("cannot write " + csv_path);
      std::printf("csv: %s\n", csv_path.c_str());
    }
    return apps::kOk;
  });
}
