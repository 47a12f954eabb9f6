// Training images/s of a model on random inputs (pure compute, no data loading), the same
// measurement as bench/torch_cnn.py resnet18: SGD momentum 0.9, 2 warm-up steps, then `steps`
// timed steps.   usage: model_speed MODEL IMAGE_SIZE BATCH STEPS [BACKEND] [THREADS]
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "nnlab/backends/registry.h"
#include "nnlab/core/ops.h"
#include "nnlab/models/zoo.h"
#include "nnlab/optim/optimizer.h"

using namespace nnlab;

namespace {
int run(int argc, char** argv) {
  std::string model_name = argv[1];
  int64_t size = std::stoll(argv[2]), batch = std::stoll(argv[3]), steps = std::stoll(argv[4]);
  Backend& be = get_backend(argc > 5 ? argv[5] : "cpu");
  if (argc > 6) be.set_threads(std::stoi(argv[6]));
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
  for (int64_t s = 0; s < steps; ++s) step();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"framework\": \"nnlab %s\", \"what\": \"%s %lld\", \"images_per_second\": %.1f, \"peak_bytes\": %zu}\n",
              be.name().c_str(), model_name.c_str(), (long long)size, double(batch * steps) / seconds,
              be.allocator().stats().peak_bytes);
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
