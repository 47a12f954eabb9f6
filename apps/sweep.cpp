// sweep: one recipe, one axis varied (batch size, model, workers, threads, backend, ...). For
// each point: total training time, images/s, peak memory, parameter count and final accuracy,
// as a table, optionally CSV and a PNG of time and peak memory against the axis. It answers
// questions such as "how does batch size trade speed for memory?" or "do more loader workers
// help this model?". --vary ranks=1,2,4 trains data parallel with that many processes, each
// point a job of its own (apps/common/ranks.h), and adds the scaling efficiency.
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "apps/common/flags.h"
#include "apps/common/plot.h"
#include "apps/common/ranks.h"
#include "apps/common/report.h"
#include "nnlab/backends/registry.h"
#include "nnlab/distributed/world.h"

using namespace nnlab::apps;

namespace {
// The value of `text` read whole by convert (std::stoll, std::stod), or a usage error.
template <typename T, typename Convert>
T parse_whole(const std::string& axis, const std::string& text, Convert convert, const char* what) {
  size_t used = 0;
  T value{};
  try {
    value = convert(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw std::invalid_argument("--vary " + axis + ": '" + text + "' is not " + what);
  return value;
}
int64_t parse_integer(const std::string& axis, const std::string& text) {
  return parse_whole<int64_t>(axis, text, [](const std::string& t, size_t* used) { return std::stoll(t, used); },
                              "an integer");
}
double parse_number(const std::string& axis, const std::string& text) {
  return parse_whole<double>(axis, text, [](const std::string& t, size_t* used) { return std::stod(t, used); },
                             "a number");
}

// The axes a sweep can vary: each sets one field of the recipe from the text of a value.
using Setter = std::function<void(ExperimentConfig&, const std::string& axis, const std::string&)>;
const std::map<std::string, Setter>& axes() {
  static const std::map<std::string, Setter> all = {
      {"batch-size", [](ExperimentConfig& c, auto& a, auto& v) { c.batch_size = parse_integer(a, v); }},
      {"model", [](ExperimentConfig& c, auto&, auto& v) { c.model = v; }},
      {"workers", [](ExperimentConfig& c, auto& a, auto& v) { c.workers = int(parse_integer(a, v)); }},
      {"threads", [](ExperimentConfig& c, auto& a, auto& v) { c.threads = int(parse_integer(a, v)); }},
      {"backend", [](ExperimentConfig& c, auto&, auto& v) { c.backend = v; }},
      {"lr", [](ExperimentConfig& c, auto& a, auto& v) { c.lr = parse_number(a, v); }},
      {"image-size", [](ExperimentConfig& c, auto& a, auto& v) { c.image_size = parse_integer(a, v); }},
      {"optimizer", [](ExperimentConfig& c, auto&, auto& v) { c.optimizer = v; }},
      {"ranks",
       [](ExperimentConfig& c, auto& a, auto& v) {
         c.ranks = int(parse_integer(a, v));
         if (c.ranks < 1) throw std::invalid_argument("--vary ranks: " + v + " is not >= 1");
       }},
      {"precision", [](ExperimentConfig& c, auto&, auto& v) { c.precision = v; }},
  };
  return all;
}

std::string axis_names() {
  std::string names;
  for (const auto& [name, setter] : axes()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

struct Point {
  std::string value;
  RunResult result;
};

// Per point, its images/s against that of the one-rank point times its ranks (0 without one).
std::vector<double> scaling(const std::vector<Point>& points) {
  double one = 0;
  for (const auto& p : points)
    if (p.result.ranks == 1) one = p.result.mean_images_per_second();
  std::vector<double> out;
  for (const auto& p : points)
    out.push_back(scaling_efficiency(p.result.mean_images_per_second(), p.result.ranks, one));
  return out;
}

void write_csv(const std::string& path, const std::string& axis, const std::vector<Point>& points) {
  std::ofstream out(path);
  out << axis << ",backend,ranks,total_s,images_per_s,scaling_efficiency,peak_bytes,parameters,"
      << "test_accuracy\n";
  std::vector<double> efficiency = scaling(points);
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    out << p.value << "," << p.result.backend << "," << p.result.ranks << ","
        << p.result.total_train_seconds() << "," << p.result.mean_images_per_second() << ","
        << efficiency[i] << "," << p.result.peak_bytes() << "," << p.result.parameters << ","
        << p.result.final_accuracy() << "\n";
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

void plot(const std::string& png, const std::string& axis, const ExperimentConfig& c,
          const std::vector<Point>& points, const std::string& machine) {
  PlotTable table{"$points", {axis, "total_s", "peak_mib"}, {}};
  for (const auto& p : points)
    table.rows.push_back({gnuplot_string(p.value), std::to_string(p.result.total_train_seconds()),
                          std::to_string(double(p.result.peak_bytes()) / (1 << 20))});
  std::string title = c.model + " on " + c.data + ", " + std::to_string(c.epochs) +
                      " epoch(s), varying " + axis + " (" + machine + ")";
  std::string commands =
      "set title " + gnuplot_string(title) +
      "\nset grid\nset key top left\nset xlabel " + gnuplot_string(axis) +
      "\nset ylabel 'training time, s'\nset y2label 'peak memory, MiB'\n"
      "set ytics nomirror\nset y2tics\nset yrange [0:*]\nset y2range [0:*]\n"
      "plot $points using 0:2:xtic(1) with linespoints lw 2 pt 7 title 'training time (s)', "
      "'' using 0:3 axes x1y2 with linespoints lw 2 pt 5 title 'peak memory (MiB)'\n";
  if (render_png(png, {table}, commands, title)) std::printf("plot: %s\n", png.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Train one recipe at each value of one axis and compare time, memory and accuracy.",
               "sweep");
  ExperimentConfig config;
  apply_preset_from_argv(argc, argv, config);
  config.epochs = 1;  // a sweep measures; --epochs asks for more
  std::string vary, csv_path, plot_path;
  bool quiet = false;
  app.add_option("--vary", vary, "AXIS=V1,V2,...; axes: " + axis_names())->required();
  add_backend_flag(app, config);
  add_recipe_flags(app, config);
  app.add_flag("--quiet", quiet, "print only the table");
  app.add_option("--csv", csv_path, "also write the table as CSV to this path");
  app.add_option("--plot", plot_path, "also plot time and peak memory against the axis (PNG)");
  RankJobs jobs;
  add_rank_job_flags(app, jobs);
  return run_app(app, argc, argv, [&] {
    size_t equals = vary.find('=');
    std::string axis = vary.substr(0, equals);
    if (equals == std::string::npos || !axes().count(axis))
      throw std::invalid_argument("--vary must be AXIS=V1,V2,... with AXIS one of " + axis_names() +
                                  ", got '" + vary + "'");
    std::vector<std::string> values;
    std::stringstream list(vary.substr(equals + 1));
    for (std::string v; std::getline(list, v, ',');)
      if (!v.empty()) values.push_back(v);
    if (values.empty()) throw std::invalid_argument("--vary " + axis + ": no values given");
    // Every point is checked before the first one runs: a typo fails at once.
    std::vector<ExperimentConfig> configs;
    for (const auto& v : values) {
      ExperimentConfig c = config;
      axes().at(axis)(c, axis, v);
      validate(c);
      nnlab::get_backend(c.backend);
      configs.push_back(c);
    }
    ProgressReporter progress(quiet);
    auto hooks = console_hooks(quiet, progress, [quiet](const EpochStats& e) {
      if (!quiet) print_epoch_line(e);
    });
    if (jobs.in_job()) {  // one point, started by the sweep below as a job of its own
      if (jobs.run_point >= int(configs.size()))
        throw std::invalid_argument("--run-point " + std::to_string(jobs.run_point) +
                                    ": no such point");
      check_job_world(configs[size_t(jobs.run_point)]);
      hand_back(jobs, run_experiment(configs[size_t(jobs.run_point)], hooks));
      return int(kOk);
    }
    std::vector<Point> points;
    for (size_t i = 0; i < configs.size(); ++i) {
      if (!quiet) std::printf("== %s=%s\n", axis.c_str(), values[i].c_str());
      RunResult result = needs_own_job(configs[i])
                             ? run_as_job(jobs, configs[i], int(i), argc, argv)
                             : run_experiment(configs[i], hooks);
      points.push_back({values[i], result});
    }
    if (!nnlab::distributed::world().primary()) return int(kOk);  // rank 0 reports
    bool by_ranks = axis == "ranks";
    std::vector<double> efficiency = scaling(points);
    std::printf("\n%-14s %-10s %10s %10s %11s %11s %9s%s\n", axis.c_str(), "backend", "total_s",
                "images/s", "peak_mem", "parameters", "test_acc", by_ranks ? "   scaling" : "");
    for (size_t i = 0; i < points.size(); ++i) {
      const Point& p = points[i];
      std::printf("%-14s %-10s %10.3f %10.0f %11s %11lld %8.2f%%", p.value.c_str(),
                  p.result.backend.c_str(), p.result.total_train_seconds(),
                  p.result.mean_images_per_second(), format_bytes(p.result.peak_bytes()).c_str(),
                  static_cast<long long>(p.result.parameters), 100 * p.result.final_accuracy());
      if (by_ranks && efficiency[i] > 0) std::printf(" %8.1f%%", 100 * efficiency[i]);
      if (by_ranks && efficiency[i] <= 0) std::printf(" %9s", "-");
      std::printf("\n");
    }
    if (by_ranks) std::printf("(scaling: images/s against ranks x the 1-rank point's)\n");
    if (config.profile)
      for (const auto& p : points) {
        std::printf("\n== %s=%s", axis.c_str(), p.value.c_str());
        print_profile(p.result);
      }
    if (!csv_path.empty()) write_csv(csv_path, axis, points);
    if (!plot_path.empty()) plot(plot_path, axis, config, points, nnlab::get_backend("cpu").device());
    return int(kOk);
  });
}
