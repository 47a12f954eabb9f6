#include "nnlab/backends/registry.h"

#include <functional>
#include <stdexcept>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cuda/instance.h"
#include "nnlab/backends/cudnn/instance.h"
#include "nnlab/backends/reference/backend.h"
#include "nnlab/config.h"
#include "nnlab/sim/observe.h"

namespace nnlab {
namespace {
struct Entry {
  std::string name;
  bool gpu;  // runs on a GPU (known without creating the backend, which may be unavailable)
  std::function<std::string()> unavailable;  // "" when usable
  std::function<Backend&()> instance;
};

// Backends are created on first use and never destroyed: a tensor held in a static (a test
// fixture, a cache) may outlive any function-local object, and its storage must still find
// its backend's allocator at exit.
const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      {"reference", false, [] { return std::string(); },
       []() -> Backend& {
         static auto* b = new reference::ReferenceBackend;  // never destroyed: see above
         return *b;
       }},
      {"cpu", false, [] { return std::string(); },
       []() -> Backend& {
         static auto* b = new cpu::CpuBackend;
         return *b;
       }},
#if NNLAB_HAVE_CUDA
      {"cuda", true, [] { return cuda::unavailable_reason(); },
       []() -> Backend& { return cuda::backend(); }},
#else
      {"cuda", true,
       [] {
         return std::string("this build has no CUDA: nvcc was not found when it was configured");
       },
       []() -> Backend& {
         throw std::logic_error("cuda backend requested from a build without CUDA");
       }},
#endif
#if NNLAB_HAVE_CUDNN
      {"cudnn", true, [] { return cudnn::unavailable_reason(); },
       []() -> Backend& { return cudnn::backend(); }},
#else
      {"cudnn", true,
       [] {
#if NNLAB_HAVE_CUDA
         return std::string(
             "this build has no cuDNN: it was not found when the build was configured (CUDNN_ROOT)");
#else
         return std::string("this build has no CUDA: nvcc was not found when it was configured");
#endif
       },
       []() -> Backend& {
         throw std::logic_error("cudnn backend requested from a build without cuDNN");
       }},
#endif
      {"cuda-sim", false, [] { return cuda_sim::unavailable_reason(); },
       []() -> Backend& { return cuda_sim::backend(); }},
  };
  return table;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}
}  // namespace

std::vector<std::string> known_backends() {
  std::vector<std::string> out;
  for (const auto& e : entries()) out.push_back(e.name);
  return out;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> out;
  for (const auto& e : entries())
    if (e.unavailable().empty()) out.push_back(e.name);
  return out;
}

std::string unavailable_reason(const std::string& name) {
  for (const auto& e : entries())
    if (e.name == name) return e.unavailable();
  return "unknown backend";
}

bool runs_on_gpu(const std::string& name) {
  for (const auto& e : entries())
    if (e.name == name) return e.gpu;
  throw std::invalid_argument("unknown backend '" + name + "'; known: " + join(known_backends()));
}

Backend& get_backend(const std::string& name) {
  for (const auto& e : entries()) {
    if (e.name != name) continue;
    std::string why = e.unavailable();
    if (!why.empty())
      throw std::invalid_argument("backend '" + name + "' is not available (" + why +
                                  "); available: " + join(available_backends()));
    return e.instance();
  }
  throw std::invalid_argument("unknown backend '" + name +
                              "'; available: " + join(available_backends()));
}

Backend& get_observed_sim_backend() {
  std::string why = sim::observation_unavailable_reason();
  if (!why.empty()) throw std::invalid_argument("cuda-sim cannot observe memory accesses here: " + why);
  return cuda_sim_observed::backend();
}

}  // namespace nnlab
