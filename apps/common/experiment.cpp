#include "apps/common/experiment.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "nnlab/backends/registry.h"
#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/core/numerics.h"
#include "nnlab/core/ops.h"
#include "nnlab/data/cifar10.h"
#include "nnlab/data/idx.h"
#include "nnlab/data/image_folder.h"
#include "nnlab/data/loader.h"
#include "nnlab/data/paths.h"
#include "nnlab/models/zoo.h"
#include "nnlab/optim/grad_scaler.h"
#include "nnlab/optim/optimizer.h"

namespace nnlab::apps {
namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// `c.data` is NAME or NAME:DIR.
std::shared_ptr<data::Dataset> load_split(const ExperimentConfig& c, data::Split split) {
  size_t colon = c.data.find(':');
  std::string name = c.data.substr(0, colon),
              dir = colon == std::string::npos ? "" : c.data.substr(colon + 1);
  if ((name == "mnist" || name == "fashion-mnist") && dir.empty())
    return std::make_shared<data::MnistIdx>(data::dataset_dir(name), split,
                                            name == "mnist" ? "MNIST" : "Fashion-MNIST");
  if (name == "cifar10")
    return std::make_shared<data::Cifar10>(dir.empty() ? data::dataset_dir("cifar10") : dir, split);
  if (name == "folder" && !dir.empty()) {
    std::string sub = split == data::Split::Train
                          ? "train"
                          : (std::filesystem::is_directory(dir + "/val") ? "val" : "test");
    data::ImageFolderOptions o;
    o.size = c.image_size > 0 ? c.image_size : 64;
    o.channels = c.channels > 0 ? c.channels : 3;
    return std::make_shared<data::ImageFolder>(dir + "/" + sub, o);
  }
  throw std::invalid_argument("--data: unknown dataset '" + c.data +
                              "'; known: mnist, fashion-mnist, cifar10, cifar10:DIR, folder:DIR");
}

// Padding and channel replication that bring fixed-size data to --image-size / --channels,
// and the --augment transforms on the training set.
data::Transforms transforms_for(const ExperimentConfig& c, const data::Dataset& d, bool training) {
  data::Transforms t;
  Shape s = d.sample_shape();
  if (c.image_size > 0 && c.image_size != s[1] && c.data.rfind("folder:", 0) != 0) {
    if (c.image_size < s[1] || (c.image_size - s[1]) % 2 != 0)
      throw std::invalid_argument("--image-size " + std::to_string(c.image_size) + ": " +
                                  d.describe() + " can only be padded evenly to a larger size");
    t.pad = (c.image_size - s[1]) / 2;
  }
  if (c.channels > 0 && c.channels != s[0]) t.channels = c.channels;
  if (training && c.augment) {
    t.crop_padding = 4;
    t.random_flip = true;
  }
  return t;
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

// The MLP ends in LogSoftmax (the MNIST notebook's NLL loss); the CNNs end in logits.
Tensor loss_of(const std::string& model, const Tensor& out, const Tensor& labels) {
  return model == "mlp" ? ops::nll_loss(out, labels) : ops::cross_entropy(out, labels);
}

Tensor upload(const data::Batch& b, Backend& backend, Tensor* labels) {
  *labels = Tensor::from_host(b.labels, Shape{int64_t(b.labels.size())}, backend);
  return Tensor::from_host(b.images, b.shape, backend);
}

// Why the loss went non-finite: the first parameters or gradients holding NaN or infinity,
// and what to try. Called once, when the run is already failing, so its host copies are free.
std::string non_finite_report(const ExperimentConfig& c, const nn::Module& model, int epoch,
                              int64_t step, double loss) {
  std::ostringstream os;
  os << "epoch " << epoch << ", step " << step << ": the training loss is " << loss;
  std::vector<std::string> found;
  for (const auto& [name, p] : model.named_parameters()) {
    std::string bad = p.grad().defined() ? first_non_finite(p.grad()) : "";
    if (!bad.empty()) found.push_back("gradient of " + name + bad);
    bad = first_non_finite(p);
    if (!bad.empty()) found.push_back(name + bad);
  }
  if (!found.empty()) {
    os << "; non-finite";
    for (size_t i = 0; i < found.size() && i < 3; ++i) os << (i ? ", " : ": ") << found[i];
    if (found.size() > 3) os << " and " << found.size() - 3 << " more";
  }
  os << ". Try a lower --lr (now " << c.lr << "), check --norm-mean/--norm-std, or rerun with "
     << "--check-numerics to name the first op that produces a non-finite value";
  return os.str();
}

// Turns --check-numerics on for one run.
struct CheckNumericsScope {
  explicit CheckNumericsScope(bool on) : previous(check_numerics()) { set_check_numerics(on); }
  ~CheckNumericsScope() { set_check_numerics(previous); }
  bool previous;
};

// --precision fp16 | bf16: mixed precision as PyTorch's AMP (nnlab/core/autocast.h), on any
// backend with the 16-bit dtype; fp32 | tf32 leave autocast off.
struct MixedPrecision {
  bool on = false;
  DType dtype = DType::F16;
  explicit MixedPrecision(const std::string& precision)
      : on(precision == "fp16" || precision == "bf16"),
        dtype(precision == "bf16" ? DType::BF16 : DType::F16) {}
};

double evaluate(nn::Module& model, data::DataLoader& test, Backend& backend,
                const MixedPrecision& mixed) {
  NoGradGuard no_grad;
  AutocastGuard autocast(mixed.dtype, mixed.on);
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
  for (float v : c.norm_std)
    if (!(v > 0)) fail("--norm-std values must be > 0, got " + std::to_string(v));
  if (c.image_size < 0 || c.image_size > 4096)
    fail("--image-size must be in [0, 4096], got " + std::to_string(c.image_size));
  if (c.channels != 0 && c.channels != 1 && c.channels != 3)
    fail("--channels must be 1 or 3, got " + std::to_string(c.channels));
  if (c.limit < 0) fail("--limit must be >= 0, got " + std::to_string(c.limit));
  if (c.precision != "fp32" && c.precision != "tf32" && c.precision != "fp16" && c.precision != "bf16")
    fail("--precision must be fp32, tf32, fp16 or bf16, got '" + c.precision + "'");
  if (c.metrics && !c.profile)
    fail("--metrics needs --profile: the counters go into the profile's op table");
  if (c.data == "folder:" || c.data == "folder")
    fail("--data folder:DIR needs the directory (DIR/train and DIR/val or DIR/test)");
}

double RunResult::total_train_seconds() const {
  double s = 0;
  for (const auto& e : epochs) s += e.train_seconds;
  return s;
}

double RunResult::mean_images_per_second() const {
  double sum = 0;
  for (const auto& e : epochs) sum += e.images_per_second;
  return epochs.empty() ? 0 : sum / double(epochs.size());
}

RunResult run_experiment(const ExperimentConfig& c, const RunHooks& hooks) {
  validate(c);
  if (c.metrics && c.backend != "cuda-sim")
    throw std::invalid_argument("--metrics counts the memory accesses of cuda-sim's kernels: use --backend cuda-sim, not " +
                                c.backend);
  Backend& backend = c.metrics ? get_observed_sim_backend() : get_backend(c.backend);
  if (c.threads > 0) backend.set_threads(c.threads);
  std::string precision = backend.set_precision(c.precision == "tf32" ? Precision::TF32 : Precision::FP32);
  MixedPrecision mixed(c.precision);
  if (mixed.on) {
    // Every op but those of the float32 master weights runs in the 16-bit dtype somewhere.
    std::string missing;
    for (Op op : {
#define NNLAB_OP(Name, stem, params) Op::Name,
#include "nnlab/core/ops.def"
         })
      if (!is_master_weight_op(op) && !backend.supports(op, mixed.dtype))
        missing += std::string(missing.empty() ? "" : ", ") + op_name(op);
    if (!missing.empty())
      throw std::invalid_argument("--precision " + c.precision + ": backend " + backend.name() +
                                  " has no " + dtype_name(mixed.dtype) + " kernels yet for " +
                                  missing + " (reference and cpu have every op)");
    precision = c.precision + " (mixed: " + dtype_name(mixed.dtype) +
                " GEMM and convolution inputs, fp32 accumulation, master weights, losses and "
                "batch-norm statistics" +
                (mixed.dtype == DType::F16 ? "; dynamic loss scaling)" : ")");
  }
  // Loss scaling for float16 only: bfloat16 has float32's range.
  optim::GradScalerOptions scaler_options;
  scaler_options.enabled = mixed.on && mixed.dtype == DType::F16;
  optim::GradScaler scaler(scaler_options);
  auto say = [&](const std::string& line) {
    if (hooks.announce) hooks.announce(line);
  };

  data::LoaderOptions train_options;
  train_options.batch_size = c.batch_size;
  train_options.seed = c.seed;
  train_options.workers = c.workers;
  train_options.limit = c.limit;
  train_options.normalize = {c.norm_mean, c.norm_std};
  auto train_set = load_split(c, data::Split::Train);
  auto test_set = load_split(c, data::Split::Test);
  if (test_set->classes() != train_set->classes())
    throw data::DataError("the test split has " + std::to_string(test_set->classes()) +
                          " classes, the training split " + std::to_string(train_set->classes()));
  train_options.transforms = transforms_for(c, *train_set, true);
  data::LoaderOptions test_options = train_options;
  test_options.transforms = transforms_for(c, *test_set, false);
  test_options.shuffle = false;
  test_options.limit = 0;
  test_options.batch_size = std::min<int64_t>(c.batch_size, 256);
  data::DataLoader train(train_set, train_options), test(test_set, test_options);

  Generator gen(c.seed);
  auto model =
      models::make_model(c.model, train.sample_shape(), train_set->classes(), backend, gen);
  auto optimizer = make_optimizer(c, model->parameters());

  RunResult result;
  result.backend = backend.name();
  result.device = backend.device();
  result.threads = backend.threads();
  result.parameters = model->parameter_count();
  result.precision = precision;
  say("backend: " + result.backend + " (" + result.device + "); precision " + precision);
  say("model: " + c.model + ", " + std::to_string(result.parameters) +
      " parameters; optimizer: " + optimizer->describe());
  say("data: " + train_set->describe() + "; training on " + std::to_string(train.samples()) +
      " images, batch " + std::to_string(c.batch_size) + ", " + std::to_string(c.workers) +
      " loader workers");

  int first_epoch = 1;
  if (!c.resume.empty()) {
    CheckpointInfo info = load_checkpoint(c.resume, *model, *optimizer);
    if (info.model != c.model || info.optimizer != c.optimizer || info.seed != c.seed)
      throw std::invalid_argument("--resume " + c.resume + ": the checkpoint is of model " +
                                  info.model + ", optimizer " + info.optimizer + ", seed " +
                                  std::to_string(info.seed) + "; this run asks for " + c.model +
                                  ", " + c.optimizer + ", seed " + std::to_string(c.seed));
    if (info.epoch >= c.epochs)
      throw std::invalid_argument("--resume " + c.resume + ": the checkpoint has " +
                                  std::to_string(info.epoch) + " epochs done; --epochs " +
                                  std::to_string(c.epochs) + " leaves nothing to train");
    if (scaler.enabled() && info.loss_scale > 0)  // resumes fp16 with the scale it had reached
      scaler.load_state(info.loss_scale, info.loss_scale_growth_tracker);
    first_epoch = int(info.epoch) + 1;
    say("resumed from " + c.resume + " after epoch " + std::to_string(info.epoch));
  }

  backend.synchronize();
  backend.allocator().reset_peak();
  CheckNumericsScope numerics(c.check_numerics);
  RunProfile& profile = result.profile;
  std::optional<Profiler> op_profiler;
  std::optional<sim::Recording> recording;  // --metrics, over the profiled training steps
  // Under --profile, each phase ends by waiting for the backend, so its time is its own.
  auto phase_end = [&](Clock::time_point& mark, double& total) {
    if (!c.profile) return;
    backend.synchronize();
    auto now = Clock::now();
    total += std::chrono::duration<double>(now - mark).count();
    mark = now;
  };
  for (int epoch = first_epoch; epoch <= c.epochs; ++epoch) {
    auto start = Clock::now();
    int64_t skipped_before = scaler.skipped_steps();
    train.start_epoch(epoch - 1);
    double loss_sum = 0;
    int64_t batches = 0, images = 0;
    if (c.profile) op_profiler.emplace();
    if (c.metrics) {
      recording.emplace();
      recording->label = [&] {
        const Op* op = op_profiler->current_op();
        return std::string(op ? op_name(*op) : "(outside ops)");
      };
      recording->on_launch = [&](sim::LaunchMetrics&& m) { profile.counters[m.label].add(m); };
    }
    for (;;) {
      auto mark = Clock::now();
      auto batch = train.next();
      if (!batch) break;
      phase_end(mark, profile.data_wait);
      Tensor labels;
      Tensor x = upload(*batch, backend, &labels);
      phase_end(mark, profile.upload);
      Tensor loss;
      {
        AutocastGuard autocast(mixed.dtype, mixed.on);
        loss = loss_of(c.model, model->forward(x), labels);
      }
      phase_end(mark, profile.forward);
      optimizer->zero_grad();
      scaler.scale(loss).backward();
      phase_end(mark, profile.backward);
      scaler.step(*optimizer);  // skipped when a scaled gradient overflowed
      scaler.update();
      phase_end(mark, profile.optimizer);
      double loss_value = loss.item();
      if (!std::isfinite(loss_value))
        throw NumericsError(non_finite_report(c, *model, epoch, batches + 1, loss_value));
      loss_sum += loss_value;
      ++batches;
      images += batch->shape[0];
      if (hooks.on_progress)
        hooks.on_progress({epoch, c.epochs, images, train.samples(), seconds_since(start)});
    }
    backend.synchronize();
    recording.reset();
    if (op_profiler) {  // evaluation stays out of the op profile
      for (const auto& [op, totals] : op_profiler->by_op()) {
        profile.ops[op].calls += totals.calls;
        profile.ops[op].seconds += totals.seconds;
      }
      op_profiler.reset();
      profile.steps += batches;
    }
    EpochStats stats;
    stats.epoch = epoch;
    stats.train_seconds = seconds_since(start);
    stats.train_loss = loss_sum / double(batches);
    stats.images_per_second = double(images) / stats.train_seconds;
    stats.test_accuracy = evaluate(*model, test, backend, mixed);
    if (scaler.enabled()) {
      stats.loss_scale = scaler.scale_value();
      stats.skipped_steps = scaler.skipped_steps() - skipped_before;
    }
    stats.peak_bytes = backend.allocator().stats().peak_bytes;
    result.epochs.push_back(stats);
    if (!c.checkpoint.empty()) {
      CheckpointInfo info;
      info.epoch = epoch;
      info.model = c.model;
      info.optimizer = c.optimizer;
      info.seed = c.seed;
      if (scaler.enabled()) {
        info.loss_scale = scaler.scale_value();
        info.loss_scale_growth_tracker = scaler.growth_tracker();
      }
      save_checkpoint(c.checkpoint, *model, *optimizer, info);
    }
    if (hooks.on_epoch) hooks.on_epoch(stats);
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
