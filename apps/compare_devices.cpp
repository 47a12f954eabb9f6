// compare_devices: the same model, data, seed and recipe on every available backend in turn,
// then one table (as the reference notebooks print it), optionally as CSV and JSON. With no
// arguments it reproduces the MNIST notebook: MLP 784-128-10, SGD lr 0.01, batch 64, 5 epochs.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/flags.h"
#include "backends/registry.h"

using namespace nnlab::apps;

namespace {
void write_csv(const std::string& path, const std::vector<RunResult>& runs, double cpu_seconds) {
  std::ofstream out(path);
  out << "backend,device,epochs,total_s,s_per_epoch,images_per_s,test_accuracy,peak_bytes,speedup_"
         "vs_cpu\n";
  for (const auto& r : runs) {
    double total = r.total_train_seconds();
    double ips = r.mean_images_per_second();
    out << r.backend << ",\"" << r.device << "\"," << r.epochs.size() << "," << total << ","
        << total / double(r.epochs.size()) << "," << ips << "," << r.final_accuracy() << ","
        << r.peak_bytes() << "," << (cpu_seconds > 0 ? cpu_seconds / total : 0) << "\n";
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_json(const std::string& path, const ExperimentConfig& c,
                const std::vector<RunResult>& runs) {
  nlohmann::json j;
  j["config"] = {{"model", c.model},   {"data", c.data},
                 {"epochs", c.epochs}, {"batch_size", c.batch_size},
                 {"lr", c.lr},         {"optimizer", c.optimizer},
                 {"seed", c.seed},     {"limit", c.limit}};
  for (const auto& r : runs) {
    nlohmann::json run = {{"backend", r.backend},
                          {"device", r.device},
                          {"threads", r.threads},
                          {"parameters", r.parameters},
                          {"total_train_seconds", r.total_train_seconds()}};
    for (const auto& e : r.epochs)
      run["epochs"].push_back({{"epoch", e.epoch},
                               {"train_loss", e.train_loss},
                               {"test_accuracy", e.test_accuracy},
                               {"train_seconds", e.train_seconds},
                               {"images_per_second", e.images_per_second},
                               {"peak_bytes", e.peak_bytes}});
    j["runs"].push_back(run);
  }
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Run the same training on every backend and compare time, accuracy and memory.",
               "compare_devices");
  ExperimentConfig config;
  // Every available backend but the simulator, whose times are CPU times of a simulation.
  std::vector<std::string> backends;
  for (const auto& b : nnlab::available_backends())
    if (b != "cuda-sim") backends.push_back(b);
  std::string csv_path, json_path;
  app.add_option("--backends", backends, "backends to run, in order (cuda-sim only when named)")
      ->delimiter(',')
      ->capture_default_str();
  add_recipe_flags(app, config);
  app.add_option("--csv", csv_path, "also write the table as CSV to this path");
  app.add_option("--json", json_path, "also write every epoch as JSON to this path");
  return run_app(app, argc, argv, [&] {
    for (const auto& b : backends) nnlab::get_backend(b);  // reject unknown names before any run
    for (const auto& b : nnlab::known_backends()) {
      std::string why = nnlab::unavailable_reason(b);
      if (!why.empty()) std::printf("# %s: not available (%s)\n", b.c_str(), why.c_str());
    }
    std::vector<RunResult> runs;
    for (const auto& b : backends) {
      ExperimentConfig c = config;
      c.backend = b;
      std::printf("== %s\n", b.c_str());
      runs.push_back(run_experiment(
          c, [](const std::string& line) { std::printf("# %s\n", line.c_str()); },
          [](const EpochStats& e) {
            std::printf("  epoch %d: loss %.4f, test accuracy %.2f%%, %.3f s, %.0f images/s\n",
                        e.epoch, e.train_loss, 100 * e.test_accuracy, e.train_seconds,
                        e.images_per_second);
            std::fflush(stdout);
          }));
    }
    double cpu_seconds = 0;
    for (const auto& r : runs)
      if (r.backend == "cpu") cpu_seconds = r.total_train_seconds();
    std::printf("\n%-10s %-42s %6s %9s %9s %10s %9s %11s %8s\n", "backend", "device", "epochs",
                "total_s", "s/epoch", "images/s", "test_acc", "peak_mem", "vs_cpu");
    for (const auto& r : runs) {
      double total = r.total_train_seconds(), ips = r.mean_images_per_second();
      std::string speedup =
          cpu_seconds > 0 ? std::to_string(cpu_seconds / total).substr(0, 5) + "x" : "-";
      std::printf("%-10s %-42s %6zu %9.2f %9.3f %10.0f %8.2f%% %11s %8s\n", r.backend.c_str(),
                  r.device.substr(0, 42).c_str(), r.epochs.size(), total,
                  total / double(r.epochs.size()), ips, 100 * r.final_accuracy(),
                  format_bytes(r.peak_bytes()).c_str(), speedup.c_str());
    }
    if (!csv_path.empty()) write_csv(csv_path, runs, cpu_seconds);
    if (!json_path.empty()) write_json(json_path, config, runs);
    return int(kOk);
  });
}
