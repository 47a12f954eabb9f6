// Training images/s of a model on random inputs (pure compute, no data loading), the same
// measurement as bench/torch_cnn.py resnet18: SGD momentum 0.9, 2 warm-up steps, then `steps`
// timed steps. Memory, measured the same way as there: the process's peak resident set
// (VmHWM) minus its resident set before the model is built, i.e. what training the model
// added: parameters, gradients, optimizer state, activations, workspace and allocator caches.
// peak_bytes is nnlab's allocator's own peak of live tensor bytes (no workspace, no caches).
//   usage: model_speed MODEL IMAGE_SIZE BATCH STEPS [BACKEND] [THREADS]
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <exception>
#include <string>

#include "nnlab/backends/registry.h"
#include "nnlab/core/ops.h"
#include "nnlab/models/zoo.h"
#include "nnlab/optim/optimizer.h"

using namespace nnlab;

namespace {
double cpu_seconds() {  // of the whole process, all threads
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// A field of /proc/self/status in bytes (VmRSS: resident now, VmHWM: the peak so far).
size_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  size_t kib = 0;
  while (in >> key) {
    if (key == field + ":") {
      in >> kib;
      return kib * 1024;
    }
    std::getline(in, key);
  }
  return 0;
}

int run(int argc, char** argv) {
  std::string model_name = argv[1];
  int64_t size = std::stoll(argv[2]), batch = std::stoll(argv[3]), steps = std::stoll(argv[4]);
  Backend& be = get_backend(argc > 5 ? argv[5] : "cpu");
  if (argc > 6) be.set_threads(std::stoi(argv[6]));
  const size_t rss_before = status_bytes("VmRSS");
  Generator gen(0);
  auto model = models::make_model(model_name, Shape{3, size, size}, 10, be, gen);
  SgdParams p;
  p.lr = 0.01;
  p.momentum = 0.9;
  optim::Sgd sgd(model->parameters(), p);
  Tensor x = Tensor::empty(Shape{batch, 3, size, size}, DType::F32, be);
  normal_(x, 0, 1, gen);
  std::vector<int32_t> host(static_cast<size_t>(batch));
  for (size_t i = 0; i < host.size(); ++i) host[i] = int32_t(i % 10);
  Tensor y = Tensor::from_host(host, Shape{batch}, be);
  be.allocator().reset_peak();
  auto step = [&] {
    Tensor loss = ops::cross_entropy(model->forward(x), y);
    sgd.zero_grad();
    loss.backward();
    sgd.step();
    be.synchronize();
  };
  step();
  step();
  auto start = std::chrono::steady_clock::now();
  double cpu_start = cpu_seconds();
  for (int64_t s = 0; s < steps; ++s) step();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_start;
  // cpu_seconds: the timed steps' process CPU time (with several threads, including their
  // waiting): on a shared machine, a 1-thread run's CPU time is its cost whatever else ran.
  std::printf("{\"framework\": \"nnlab %s\", \"what\": \"%s %lld\", \"images_per_second\": %.1f, "
              "\"cpu_seconds\": %.3f, \"memory_bytes\": %zu, \"peak_bytes\": %zu}\n",
              be.name().c_str(), model_name.c_str(), (long long)size, double(batch * steps) / seconds, cpu,
              status_bytes("VmHWM") - rss_before, be.allocator().stats().peak_bytes);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: model_speed MODEL IMAGE_SIZE BATCH STEPS [BACKEND] [THREADS]\n");
    return 2;
  }
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // an unknown backend or model, no GPU, out of memory
    std::fprintf(stderr, "model_speed: %s\n", e.what());
    return 1;
  }
}
