// Your own model and your own training loop on MNIST, as in PyTorch: a small CNN written as
// an nn::Module subclass (torch.nn.Module), trained one epoch with Adam, then evaluated.
// Exits 1 if the test accuracy is implausibly low (under 95%; it reaches about 97-98%).
// usage: mnist_training [BACKEND]   (cpu by default; MNIST from $NNLAB_DATA or ~/.cache/nnlab)
#include <nnlab/nnlab.h>

#include <cstdio>
#include <memory>

using namespace nnlab;

class Net : public nn::Module {
 public:
  Net(Backend& be, Generator& gen)
      : conv1(register_module("conv1", std::make_shared<nn::Conv2d>(1, 8, 5, be, gen, 2, 2))),
        conv2(register_module("conv2", std::make_shared<nn::Conv2d>(8, 16, 3, be, gen, 2, 1))),
        fc(register_module("fc", std::make_shared<nn::Linear>(16 * 7 * 7, 10, be, gen))) {}

  Tensor forward(const Tensor& x) override {  // x: [n, 1, 28, 28]
    Tensor h = ops::relu((*conv1)(x));         // 5x5, stride 2: [n, 8, 14, 14]
    h = ops::relu((*conv2)(h));                // 3x3, stride 2: [n, 16, 7, 7]
    return (*fc)(h.flatten());                 // logits [n, 10]
  }
  std::string describe() const override { return "Net"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::Linear> fc;
};

// A batch from the DataLoader (host memory) as tensors on the backend.
std::pair<Tensor, Tensor> to_tensors(const data::Batch& b, Backend& be) {
  return {Tensor::from_host(b.images, b.shape, be),
          Tensor::from_host(b.labels, Shape{int64_t(b.labels.size())}, be)};
}

int main(int argc, char** argv) try {
  Backend& be = get_backend(argc > 1 ? argv[1] : "cpu");
  std::string dir = data::dataset_dir("mnist");
  data::LoaderOptions options;  // batch 64, shuffled with seed 0, pixels / 255
  data::DataLoader train(std::make_shared<data::MnistIdx>(dir, data::Split::Train), options);
  options.shuffle = false;
  options.batch_size = 1000;
  data::DataLoader test(std::make_shared<data::MnistIdx>(dir, data::Split::Test), options);

  Generator gen(0);
  Net model(be, gen);
  AdamParams adam;
  adam.lr = 2e-3;
  optim::Adam optimizer(model.parameters(), adam);

  train.start_epoch(0);
  for (int64_t step = 0; auto batch = train.next(); ++step) {
    auto [x, labels] = to_tensors(*batch, be);
    Tensor loss = ops::cross_entropy(model(x), labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step % 200 == 0) std::printf("step %4lld  loss %.4f\n", (long long)step, loss.item());
  }

  NoGradGuard no_grad;  // torch.no_grad()
  model.eval();
  int64_t correct = 0, seen = 0;
  test.start_epoch(0);
  while (auto batch = test.next()) {
    auto [x, labels] = to_tensors(*batch, be);
    std::vector<int32_t> predicted = ops::argmax(model(x)).to_host<int32_t>();
    for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == batch->labels[i];
    seen += int64_t(predicted.size());
  }
  double accuracy = 100.0 * double(correct) / double(seen);
  std::printf("%s on %s: test accuracy %.2f%% (%lld images)\n", model.describe().c_str(),
              be.name().c_str(), accuracy, (long long)seen);
  return accuracy >= 95.0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "mnist_training: %s\n", e.what());
  return 1;
}
