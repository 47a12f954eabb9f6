#include "apps/common/ranks.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "apps/common/result_json.h"
#include "nnlab/distributed/world.h"

extern char** environ;

namespace nnlab::apps {
namespace {
std::string this_executable() {
  std::vector<char> path(4096);
  ssize_t n = readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (n <= 0) throw std::runtime_error("cannot find this program's path (/proc/self/exe)");
  return std::string(path.data(), size_t(n));
}

std::string shell_words(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
  return line;
}
}  // namespace

void add_rank_job_flags(CLI::App& app, RankJobs& jobs) {
  app.add_option("--launcher", jobs.launcher,
                 "how points with several ranks are started; {ranks} is replaced by their number")
      ->capture_default_str();
  // Set by the parent in the jobs it starts; hidden from --help.
  app.add_option("--run-point", jobs.run_point)->group("");
  app.add_option("--point-result", jobs.point_result)->group("");
}

bool needs_own_job(const ExperimentConfig& c) {
  return c.ranks > 0 && c.ranks != distributed::world().size;
}

RunResult run_as_job(const RankJobs& jobs, const ExperimentConfig& c, int point, int argc,
                     char** argv) {
  if (distributed::world().launched)
    throw std::invalid_argument(
        "points with their own number of ranks start their own jobs: run "
        "this app without mpirun or srun");
  std::vector<std::string> words;
  std::istringstream launcher(jobs.launcher);
  for (std::string w; launcher >> w;) {
    for (size_t at; (at = w.find("{ranks}")) != std::string::npos;)
      w.replace(at, 7, std::to_string(c.ranks));
    words.push_back(w);
  }
  if (words.empty()) throw std::invalid_argument("--launcher is empty");
  std::string result_path = "/tmp/nnlab-point-XXXXXX";
  int fd = mkstemp(result_path.data());
  if (fd < 0) throw std::runtime_error("cannot create a temporary file in /tmp");
  close(fd);
  words.push_back(this_executable());
  for (int i = 1; i < argc; ++i) words.push_back(argv[i]);
  for (std::string extra : {std::string("--run-point"), std::to_string(point),
                            std::string("--point-result"), result_path})
    words.push_back(extra);

  std::vector<char*> args;
  for (auto& w : words) args.push_back(w.data());
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  int status = 0;
  int err = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (err == 0 && waitpid(pid, &status, 0) < 0) err = errno;
  std::string command = shell_words(words);
  if (err != 0) {
    std::remove(result_path.c_str());
    throw std::runtime_error("cannot start `" + words[0] + "` (" + std::strerror(err) +
                             "): install openmpi-bin, or name another launcher with --launcher");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::remove(result_path.c_str());
    throw std::runtime_error("the job for " + std::to_string(c.ranks) + " ranks failed (" +
                             (WIFEXITED(status)
                                  ? "exit status " + std::to_string(WEXITSTATUS(status))
                                  : "signal " + std::to_string(WTERMSIG(status))) +
                             "): " + command);
  }
  std::ifstream in(result_path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception&) {
    std::remove(result_path.c_str());
    throw std::runtime_error("the job for " + std::to_string(c.ranks) +
                             " ranks left no result: " + command);
  }
  std::remove(result_path.c_str());
  return run_from_json(j);
}

void check_job_world(const ExperimentConfig& c) {
  const distributed::World& world = distributed::world();
  if (c.ranks > 0 && c.ranks != world.size)
    throw std::invalid_argument("--run-point: the point asks for " + std::to_string(c.ranks) +
                                " ranks, this job has " + std::to_string(world.size));
}

void hand_back(const RankJobs& jobs, const RunResult& result) {
  if (!distributed::world().primary()) return;
  std::ofstream out(jobs.point_result);
  out << run_json(result, true).dump() << "\n";
  if (!out) throw std::runtime_error("cannot write " + jobs.point_result);
}

double scaling_efficiency(double images_per_second, int ranks, double one_rank_images_per_second) {
  if (ranks < 1 || one_rank_images_per_second <= 0) return 0;
  return images_per_second / (double(ranks) * one_rank_images_per_second);
}

}  // namespace nnlab::apps
