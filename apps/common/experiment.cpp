#include "apps/common/experiment.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "backends/registry.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "core/optim/optimizer.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/paths.h"
#include "models/zoo.h"

namespace nnlab::apps {
namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::shared_ptr<data::Dataset> load_split(const std::string& name, data::Split split) {
  if (name == "mnist" || name == "fashion-mnist")
    return std::make_shared<data::MnistIdx>(data::dataset_dir(name), split,
                                            name == "mnist" ? "MNIST" : "Fashion-MNIST");
  throw std::invalid_argument("--data: unknown dataset '" + name +
                              "'; known: mnist, fashion-mnist");
}

std::unique_ptr<optim::Optimizer> make_optimizer(const ExperimentConfig& c,
                                                 std::vector<Tensor> params) {
  if (c.optimizer == "sgd") {
    SgdParams p;
    p.lr = c.lr;
    p.momentum = c.momentum;
    p.weight_decay = c.weight_decay;
    return std::make_unique<optim::Sgd>(std::move(params), p);
  }
  AdamParams p;
  p.lr = c.lr;
  p.weight_decay = c.weight_decay;
  return std::make_unique<optim::Adam>(std::move(params), p);
}

Tensor upload(const data::Batch& b, Backend& backend, Tensor* labels) {
  *labels = Tensor::from_host(b.labels, Shape{int64_t(b.labels.size())}, backend);
  return Tensor::from_host(b.images, b.shape, backend);
}

double evaluate(nn::Module& model, data::DataLoader& test, Backend& backend) {
  NoGradGuard no_grad;
  model.eval();
  test.start_epoch(0);
  int64_t correct = 0, seen = 0;
  while (auto batch = test.next()) {
    Tensor labels;
    Tensor x = upload(*batch, backend, &labels);
    std::vector<int32_t> predicted = ops::argmax(model(x)).to_host<int32_t>();
    for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == batch->labels[i];
    seen += int64_t(predicted.size());
  }
  model.train();
  return double(correct) / double(seen);
}
}  // namespace

void validate(const ExperimentConfig& c) {
  auto fail = [](const std::string& m) { throw std::invalid_argument(m); };
  if (c.epochs < 1) fail("--epochs must be >= 1, got " + std::to_string(c.epochs));
  if (c.batch_size < 1) fail("--batch-size must be >= 1, got " + std::to_string(c.batch_size));
  if (!(c.lr > 0) || !std::isfinite(c.lr))
    fail("--lr must be a positive number, got " + std::to_string(c.lr));
  if (c.optimizer != "sgd" && c.optimizer != "adam")
    fail("--optimizer must be sgd or adam, got '" + c.optimizer + "'");
  if (c.momentum < 0 || c.momentum >= 1)
    fail("--momentum must be in [0, 1), got " + std::to_string(c.momentum));
  if (c.weight_decay < 0)
    fail("--weight-decay must be >= 0, got " + std::to_string(c.weight_decay));
  if (c.workers < 0 || c.workers > 64)
    fail("--workers must be in [0, 64], got " + std::to_string(c.workers));
  if (c.threads < 0 || c.threads > 256)
    fail("--threads must be in [0, 256], got " + std::to_string(c.threads));
  if (!(c.norm_std > 0)) fail("--norm-std must be > 0, got " + std::to_string(c.norm_std));
  if (c.limit < 0) fail("--limit must be >= 0, got " + std::to_string(c.limit));
}

double RunResult::total_train_seconds() const {
  double s = 0;
  for (const auto& e : epochs) s += e.train_seconds;
  return s;
}

RunResult run_experiment(const ExperimentConfig& c, const Announce& announce,
                         const OnEpoch& on_epoch) {
  validate(c);
  Backend& backend = get_backend(c.backend);
  if (c.threads > 0) backend.set_threads(c.threads);
  auto say = [&](const std::string& line) {
    if (announce) announce(line);
  };

  data::LoaderOptions train_options;
  train_options.batch_size = c.batch_size;
  train_options.seed = c.seed;
  train_options.workers = c.workers;
  train_options.limit = c.limit;
  train_options.normalize = {{c.norm_mean}, {c.norm_std}};
  data::LoaderOptions test_options = train_options;
  test_options.shuffle = false;
  test_options.limit = 0;
  test_options.batch_size = 1000;
  auto train_set = load_split(c.data, data::Split::Train);
  auto test_set = load_split(c.data, data::Split::Test);
  data::DataLoader train(train_set, train_options), test(test_set, test_options);

  Generator gen(c.seed);
  auto model =
      models::make_model(c.model, train_set->sample_shape(), train_set->classes(), backend, gen);
  auto optimizer = make_optimizer(c, model->parameters());

  RunResult result;
  result.backend = backend.name();
  result.device = backend.device();
  result.threads = backend.threads();
  result.parameters = model->parameter_count();
  say("backend: " + result.backend + " (" + result.device + ")");
  say("model: " + c.model + ", " + std::to_string(result.parameters) +
      " parameters; optimizer: " + optimizer->describe());
  say("data: " + train_set->describe() + "; training on " + std::to_string(train.samples()) +
      " images, batch " + std::to_string(c.batch_size) + ", " + std::to_string(c.workers) +
      " loader workers");

  backend.synchronize();
  backend.allocator().reset_peak();
  for (int epoch = 1; epoch <= c.epochs; ++epoch) {
    auto start = Clock::now();
    train.start_epoch(epoch - 1);
    double loss_sum = 0;
    int64_t batches = 0, images = 0;
    while (auto batch = train.next()) {
      Tensor labels;
      Tensor x = upload(*batch, backend, &labels);
      Tensor loss = ops::nll_loss(model->forward(x), labels);
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      loss_sum += loss.item();
      ++batches;
      images += batch->shape[0];
    }
    backend.synchronize();
    EpochStats stats;
    stats.epoch = epoch;
    stats.train_seconds = seconds_since(start);
    stats.train_loss = loss_sum / double(batches);
    stats.images_per_second = double(images) / stats.train_seconds;
    stats.test_accuracy = evaluate(*model, test, backend);
    stats.peak_bytes = backend.allocator().stats().peak_bytes;
    result.epochs.push_back(stats);
    if (on_epoch) on_epoch(stats);
  }
  return result;
}

std::string format_bytes(size_t bytes) {
  std::ostringstream os;
  os.precision(2);
  os << std::fixed;
  if (bytes >= (size_t(1) << 30))
    os << double(bytes) / double(size_t(1) << 30) << " GiB";
  else if (bytes >= (size_t(1) << 20))
    os << double(bytes) / double(size_t(1) << 20) << " MiB";
  else
    os << double(bytes) / 1024.0 << " KiB";
  return os.str();
}

}  // namespace nnlab::apps
