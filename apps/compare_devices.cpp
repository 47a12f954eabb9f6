// compare_devices: the same model, data, seed and recipe on every available backend in turn,
// then one table as the reference notebooks print it (with the speed-up against cpu), the
// per-epoch training loss of each backend, and optionally CSV, JSON and a PNG chart. With no
// arguments it reproduces the MNIST notebook (--experiment mnist-mlp); --repeat N runs each
// backend N times and reports the mean and the spread; --ranks 1,2 trains each backend data
// parallel with each number of processes (each a job of its own, apps/common/ranks.h) and adds
// the scaling efficiency.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/common/flags.h"
#include "apps/common/plot.h"
#include "apps/common/ranks.h"
#include "apps/common/report.h"
#include "apps/common/result_json.h"
#include "nnlab/backends/registry.h"
#include "nnlab/distributed/world.h"

using namespace nnlab::apps;

namespace {
// Mean and sample standard deviation of one measurement over a backend's repeats.
struct Spread {
  double mean = 0, sd = 0;
};
template <typename F> Spread spread_of(const std::vector<RunResult>& runs, F value) {
  Spread s;
  for (const auto& r : runs) s.mean += value(r);
  s.mean /= double(runs.size());
  for (const auto& r : runs) s.sd += (value(r) - s.mean) * (value(r) - s.mean);
  s.sd = runs.size() > 1 ? std::sqrt(s.sd / double(runs.size() - 1)) : 0;
  return s;
}

// One backend's repeats of the same run (with one number of ranks under --ranks).
struct BackendRuns {
  std::string backend;  // with " xK" under --ranks
  std::vector<RunResult> runs;
  Spread total_seconds() const {
    return spread_of(runs, [](const RunResult& r) { return r.total_train_seconds(); });
  }
  Spread accuracy() const {
    return spread_of(runs, [](const RunResult& r) { return r.final_accuracy(); });
  }
  Spread images_per_second() const {
    return spread_of(runs, [](const RunResult& r) { return r.mean_images_per_second(); });
  }
  double epoch_loss(size_t epoch) const {  // mean over the repeats
    double sum = 0;
    for (const auto& r : runs) sum += r.epochs[epoch].train_loss;
    return sum / double(runs.size());
  }
};

std::string with_spread(Spread s, const char* format, double scale = 1) {
  char text[64];
  std::snprintf(text, sizeof text, format, scale * s.mean);
  std::string out = text;
  if (s.sd > 0) {
    std::snprintf(text, sizeof text, format, scale * s.sd);
    out += " ±" + std::string(text);
  }
  return out;
}

// Per row, its images/s against its backend's one-rank row times its ranks (0 without one).
double scaling_of(const BackendRuns& b, const std::vector<BackendRuns>& all) {
  for (const auto& one : all)
    if (one.runs.front().backend == b.runs.front().backend && one.runs.front().ranks == 1)
      return scaling_efficiency(b.images_per_second().mean, b.runs.front().ranks,
                                one.images_per_second().mean);
  return 0;
}

void print_table(const std::vector<BackendRuns>& all, double cpu_seconds, int repeat,
                 bool by_ranks) {
  std::printf("\n%-10s %-40s %-5s %6s %16s %9s %10s %15s %11s %8s%s\n", "backend", "device", "prec",
              "epochs", "total_s", "s/epoch", "images/s", "test_acc", "peak_mem", "vs_cpu",
              by_ranks ? "  scaling" : "");
  for (const auto& b : all) {
    const RunResult& first = b.runs.front();
    Spread total = b.total_seconds();
    std::string speedup = cpu_seconds > 0 ? std::to_string(cpu_seconds / total.mean).substr(0, 5) + "x" : "-";
    std::printf("%-10s %-40s %-5s %6zu %16s %9.3f %10.0f %15s %11s %8s", b.backend.c_str(),
                first.device.substr(0, 40).c_str(), first.precision.substr(0, 4).c_str(),
                first.epochs.size(),
                with_spread(total, "%.2f").c_str(), total.mean / double(first.epochs.size()),
                b.images_per_second().mean, (with_spread(b.accuracy(), "%.2f", 100) + "%").c_str(),
                format_bytes(first.peak_bytes()).c_str(), speedup.c_str());
    double scaling = by_ranks ? scaling_of(b, all) : 0;
    if (scaling > 0) std::printf(" %7.1f%%", 100 * scaling);
    if (by_ranks && scaling <= 0) std::printf(" %8s", "-");
    std::printf("\n");
  }
  if (by_ranks)
    std::printf(
        "(backend xK: K ranks, data parallel; scaling: images/s against K x the 1-rank row's)\n");
  if (repeat > 1)
    std::printf("(%d runs per backend: mean ± sample standard deviation)\n", repeat);
}

void print_loss_curves(const std::vector<BackendRuns>& all) {
  std::printf("\ntrain loss per epoch%s\n%-6s", all.front().runs.size() > 1 ? " (mean of the runs)" : "",
              "epoch");
  for (const auto& b : all) std::printf(" %12s", b.backend.c_str());
  std::printf("\n");
  const RunResult& first = all.front().runs.front();
  for (size_t e = 0; e < first.epochs.size(); ++e) {
    std::printf("%-6d", first.epochs[e].epoch);
    for (const auto& b : all) std::printf(" %12.4f", b.epoch_loss(e));
    std::printf("\n");
  }
}

void write_csv(const std::string& path, const std::vector<BackendRuns>& all, double cpu_seconds) {
  std::ofstream out(path);
  out << "backend,ranks,device,precision,run,epochs,total_s,s_per_epoch,images_per_s,test_accuracy,"
         "peak_bytes,speedup_vs_cpu\n";
  for (const auto& b : all)
    for (size_t i = 0; i < b.runs.size(); ++i) {
      const RunResult& r = b.runs[i];
      double total = r.total_train_seconds();
      out << r.backend << "," << r.ranks << ",\"" << r.device << "\",\"" << r.precision << "\","
          << i + 1 << "," << r.epochs.size() << "," << total << ","
          << total / double(r.epochs.size()) << "," << r.mean_images_per_second() << ","
          << r.final_accuracy() << "," << r.peak_bytes() << ","
          << (cpu_seconds > 0 ? cpu_seconds / total : 0) << "\n";
    }
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_json(const std::string& path, const ExperimentConfig& c,
                const std::vector<BackendRuns>& all) {
  nlohmann::json j;
  j["config"] = {{"experiment", c.experiment}, {"model", c.model},   {"data", c.data},
                 {"precision", c.precision},
                 {"epochs", c.epochs},         {"batch_size", c.batch_size},
                 {"lr", c.lr},                 {"optimizer", c.optimizer},
                 {"momentum", c.momentum},     {"seed", c.seed},     {"limit", c.limit},
                 {"image_size", c.image_size}, {"workers", c.workers}};
  j["runs"] = nlohmann::json::array();
  for (const auto& b : all)
    for (size_t i = 0; i < b.runs.size(); ++i) {
      nlohmann::json run = run_json(b.runs[i], c.profile);
      run["run"] = i + 1;
      j["runs"].push_back(run);
    }
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Three panels: time per epoch and test accuracy per backend (bars with the spread), and
// every backend's training loss per epoch.
void plot(const std::string& png, const ExperimentConfig& c, const std::vector<BackendRuns>& all,
          const std::string& machine) {
  PlotTable bars{"$backends", {"backend", "s_per_epoch", "s_sd", "accuracy", "acc_sd"}, {}};
  for (const auto& b : all) {
    double epochs = double(b.runs.front().epochs.size());
    Spread t = b.total_seconds(), a = b.accuracy();
    bars.rows.push_back({gnuplot_string(b.backend), std::to_string(t.mean / epochs),
                         std::to_string(t.sd / epochs), std::to_string(100 * a.mean),
                         std::to_string(100 * a.sd)});
  }
  PlotTable losses{"$losses", {"epoch"}, {}};
  for (const auto& b : all) losses.columns.push_back(b.backend);
  for (size_t e = 0; e < all.front().runs.front().epochs.size(); ++e) {
    std::vector<std::string> row{std::to_string(e + 1)};
    for (const auto& b : all) row.push_back(std::to_string(b.epoch_loss(e)));
    losses.rows.push_back(row);
  }
  std::string title = c.model + " on " + c.data + ", batch " + std::to_string(c.batch_size) +
                      ", " + std::to_string(c.epochs) + " epochs (" + machine + ")";
  std::string commands =
      "set multiplot layout 1,3 title " + gnuplot_string(title) +
      "\n"
      "set style fill solid 0.6 border -1\nset boxwidth 0.6\nset grid ytics\nunset key\n"
      "set yrange [0:*]\nset style data boxes\n"
      "set title 'seconds per epoch (lower is better)'\n"
      "plot $backends using 0:2:xtic(1) with boxes lc rgb '#4472c4', '' using 0:2:3 with yerrorbars "
      "lc rgb 'black' pt 0, '' using 0:2:(sprintf('%.3g s', $2)) with labels offset 0,1\n"
      "set title 'test accuracy, % (higher is better)'\nset yrange [0:105]\n"
      "plot $backends using 0:4:xtic(1) with boxes lc rgb '#70ad47', '' using 0:4:5 with yerrorbars "
      "lc rgb 'black' pt 0, '' using 0:4:(sprintf('%.2f%%', $4)) with labels offset 0,1\n"
      "set yrange [*:*]\n"
      "set title 'training loss per epoch'\nset key top right\nset xlabel 'epoch'\nset xtics 1\n"
      "plot for [i=2:" +
      std::to_string(all.size() + 1) +
      "] $losses using 1:i with linespoints title columnheader(i)\n"
      "unset multiplot\n";
  if (render_png(png, {bars, losses}, commands, title)) std::printf("plot: %s\n", png.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Run the same training on every backend and compare time, accuracy and memory.",
               "compare_devices");
  ExperimentConfig config;
  apply_preset_from_argv(argc, argv, config);
  // Every available backend but the simulator, whose times are CPU times of a simulation.
  std::vector<std::string> backends;
  for (const auto& b : nnlab::available_backends())
    if (b != "cuda-sim") backends.push_back(b);
  std::string csv_path, json_path, plot_path;
  int repeat = 1;
  bool quiet = false;
  // The default depends on the machine, so --help (and docs/cli.md) describes it in words.
  app.add_option("--backends", backends,
                 "backends to run, in order (default: every one available here but cuda-sim, "
                 "which runs only when named)")
      ->delimiter(',');
  add_recipe_flags(app, config);
  app.add_option("--repeat", repeat, "runs per backend; the table shows mean ± sd")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "print only the tables (no progress, no per-epoch lines)");
  app.add_option("--csv", csv_path, "also write one row per run as CSV to this path");
  app.add_option("--json", json_path, "also write every epoch (and --profile) as JSON to this path");
  app.add_option("--plot", plot_path,
                 "also draw time per epoch, accuracy and loss curves into this PNG (gnuplot)");
  std::vector<int> rank_counts;
  app.add_option("--ranks", rank_counts,
                 "train each backend data parallel with each of these numbers of processes, each "
                 "run a job of its own (see --launcher)")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096));
  RankJobs jobs;
  add_rank_job_flags(app, jobs);
  return run_app(app, argc, argv, [&] {
    validate(config);
    for (const auto& b : backends) nnlab::get_backend(b);  // reject unknown names before any run
    if (config.metrics && std::find(backends.begin(), backends.end(), "cuda-sim") == backends.end())
      throw std::invalid_argument("--metrics counts the memory accesses of cuda-sim's kernels: add cuda-sim to --backends");
    // The points: every backend with every number of ranks.
    bool by_ranks = !rank_counts.empty();
    if (!by_ranks) rank_counts = {0};
    std::vector<BackendRuns> all;
    std::vector<ExperimentConfig> configs;
    for (const auto& b : backends)
      for (int ranks : rank_counts) {
        ExperimentConfig c = config;
        c.backend = b;
        c.ranks = ranks;
        c.metrics = config.metrics && b == "cuda-sim";  // the others have no counters
        configs.push_back(c);
        all.push_back({by_ranks ? b + " x" + std::to_string(ranks) : b, {}});
      }
    ProgressReporter progress(quiet);
    if (jobs.in_job()) {  // one run of one point, started as a job of its own below
      if (jobs.run_point >= int(configs.size()))
        throw std::invalid_argument("--run-point " + std::to_string(jobs.run_point) +
                                    ": no such point");
      const ExperimentConfig& c = configs[size_t(jobs.run_point)];
      check_job_world(c);
      hand_back(jobs,
                run_experiment(c, console_hooks(quiet, progress, [quiet](const EpochStats& e) {
                                 if (!quiet) print_epoch_line(e);
                               })));
      return int(kOk);
    }
    for (const auto& b : nnlab::known_backends()) {
      std::string why = nnlab::unavailable_reason(b);
      if (!why.empty()) std::printf("# %s: not available (%s)\n", b.c_str(), why.c_str());
    }
    if (!config.experiment.empty()) std::printf("# experiment: %s\n", config.experiment.c_str());
    for (size_t p = 0; p < configs.size(); ++p) {
      const ExperimentConfig& c = configs[p];
      const std::string& name = all[p].backend;
      for (int i = 1; i <= repeat; ++i) {
        if (!quiet)
          std::printf(repeat > 1 ? "== %s, run %d of %d\n" : "== %s\n", name.c_str(), i, repeat);
        auto hooks = console_hooks(quiet || i > 1, progress, [quiet](const EpochStats& e) {
          if (!quiet) print_epoch_line(e);
        });
        all[p].runs.push_back(needs_own_job(c) ? run_as_job(jobs, c, int(p), argc, argv)
                                               : run_experiment(c, hooks));
      }
    }
    if (!nnlab::distributed::world().primary()) return int(kOk);  // rank 0 reports
    double cpu_seconds = 0;  // the first cpu row's (one rank's, under --ranks 1,...)
    for (auto it = all.rbegin(); it != all.rend(); ++it)
      if (it->runs.front().backend == "cpu") cpu_seconds = it->total_seconds().mean;
    print_table(all, cpu_seconds, repeat, by_ranks);
    print_loss_curves(all);
    if (config.profile)
      for (const auto& b : all) print_profile(b.runs.front());
    if (!csv_path.empty()) write_csv(csv_path, all, cpu_seconds);
    if (!json_path.empty()) write_json(json_path, config, all);
    if (!plot_path.empty()) plot(plot_path, config, all, nnlab::get_backend("cpu").device());
    return int(kOk);
  });
}
