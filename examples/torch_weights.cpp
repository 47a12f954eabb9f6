// PyTorch's weights in nnlab: loads the MLP that torch_train_mlp.py trained in PyTorch from
// its safetensors file into nnlab's models::make_mlp (the parameter names are
// torch.nn.Sequential's) and evaluates it on MNIST's test set. It must compute what PyTorch
// computed: every test image's log-probabilities within 1e-4 of PyTorch's, and the same
// predicted class, except where PyTorch's two best classes are within 1e-4 of each other
// (float rounding may pick either there). The two accuracies then agree up to those images.
// usage: torch_weights WEIGHTS.safetensors [BACKEND]   (run_torch_weights.sh runs both steps)
#include <nnlab/nnlab.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>

using namespace nnlab;

int main(int argc, char** argv) try {
  if (argc < 2) throw std::invalid_argument("usage: torch_weights WEIGHTS.safetensors [BACKEND]");
  Backend& be = get_backend(argc > 2 ? argv[2] : "cpu");
  SafetensorsFile file = load_safetensors(argv[1], be);
  auto entry = [&](const std::string& name) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) throw std::runtime_error(std::string(argv[1]) + " has no tensor " + name);
    return it->second;
  };
  auto metadata = [&](const std::string& key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) throw std::runtime_error(std::string(argv[1]) + " has no metadata " + key);
    return it->second;
  };

  Generator gen(0);
  auto model = models::make_mlp(784, {128}, 10, be, gen);
  for (auto& [name, p] : model->named_parameters()) p.copy_from(entry(name));  // checks shapes
  model->eval();

  NoGradGuard no_grad;
  data::LoaderOptions options;
  options.shuffle = false;  // the test set in file order, as PyTorch's log-probabilities
  options.batch_size = 1000;
  data::DataLoader test(std::make_shared<data::MnistIdx>(data::dataset_dir("mnist"), data::Split::Test), options);
  std::vector<float> torch_logp = entry("test_log_probs").to_host<float>();
  const double tolerance = 1e-4;
  int64_t correct = 0, seen = 0, near_ties = 0, disagreements = 0;
  double worst = 0;
  test.start_epoch(0);
  while (auto batch = test.next()) {
    Tensor x = Tensor::from_host(batch->images, batch->shape, be);
    std::vector<float> logp = (*model)(x).to_host<float>();
    for (size_t i = 0; i < batch->labels.size(); ++i, ++seen) {
      const float* ours = &logp[i * 10];
      const float* theirs = &torch_logp[size_t(seen) * 10];
      for (int c = 0; c < 10; ++c) worst = std::max(worst, double(std::abs(ours[c] - theirs[c])));
      int ours_best = int(std::max_element(ours, ours + 10) - ours);
      int theirs_best = int(std::max_element(theirs, theirs + 10) - theirs);
      std::vector<float> sorted(theirs, theirs + 10);
      std::sort(sorted.rbegin(), sorted.rend());
      bool near_tie = sorted[0] - sorted[1] < tolerance;
      near_ties += near_tie;
      disagreements += ours_best != theirs_best && !near_tie;
      correct += ours_best == batch->labels[i];
    }
  }
  double accuracy = double(correct) / double(seen);
  double torch_accuracy = std::stod(metadata("test_accuracy"));
  std::printf("PyTorch %s: test accuracy %.2f%%\n", metadata("torch").c_str(), 100 * torch_accuracy);
  std::printf("nnlab on %s, the same weights: test accuracy %.2f%% (%lld images)\n", be.name().c_str(),
              100 * accuracy, (long long)seen);
  std::printf("log-probabilities: max |nnlab - PyTorch| = %.2e (tolerance %.0e); near ties: %lld; "
              "other disagreements: %lld\n", worst, tolerance, (long long)near_ties, (long long)disagreements);
  bool agree = seen == int64_t(torch_logp.size() / 10) && worst <= tolerance && disagreements == 0 &&
               std::abs(accuracy - torch_accuracy) * double(seen) <= double(near_ties) + 1e-9;
  return agree ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "torch_weights: %s\n", e.what());
  return 1;
}
