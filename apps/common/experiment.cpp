#include "apps/common/experiment.h"

#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "apps/common/presets.h"
#include "apps/common/thread_chooser.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/core/numerics.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/safetensors.h"
#include "nnlab/data/cifar10.h"
#include "nnlab/data/idx.h"
#include "nnlab/data/image_folder.h"
#include "nnlab/data/loader.h"
#include "nnlab/data/paths.h"
#include "nnlab/distributed/world.h"
#include "nnlab/models/zoo.h"
#include "nnlab/optim/grad_scaler.h"
#include "nnlab/optim/optimizer.h"

namespace nnlab::apps {
namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_number(double v) {  // "0.9", "1e-06", "nan"
  std::ostringstream os;
  os << v;
  return os.str();
}

// Whether the run's momentum is the one its preset set (the user then only switched optimizer).
bool momentum_from_preset(const ExperimentConfig& c) {
  for (const auto& p : presets())
    if (p.name == c.experiment) {
      ExperimentConfig preset;
      p.apply(preset);
      return preset.momentum == c.momentum;
    }
  return false;
}

// The datasets --data names: each takes a directory after a colon, or must, or may not.
struct DataSource {
  std::string name;
  enum { NoDir, OptionalDir, NeedsDir } dir;
};
const std::vector<DataSource>& data_sources() {
  static const std::vector<DataSource> all = {{"mnist", DataSource::NoDir},
                                              {"fashion-mnist", DataSource::NoDir},
                                              {"cifar10", DataSource::OptionalDir},
                                              {"folder", DataSource::NeedsDir}};
  return all;
}

struct Datasets {
  std::shared_ptr<data::Dataset> train, test;
  std::string layout;  // how an image folder was split ("" for the fixed datasets)
};

// `c.data` is NAME or NAME:DIR.
Datasets load_data(const ExperimentConfig& c) {
  size_t colon = c.data.find(':');
  std::string name = c.data.substr(0, colon),
              dir = colon == std::string::npos ? "" : c.data.substr(colon + 1);
  if ((name == "mnist" || name == "fashion-mnist") && dir.empty()) {
    std::string title = name == "mnist" ? "MNIST" : "Fashion-MNIST";
    return {std::make_shared<data::MnistIdx>(data::dataset_dir(name), data::Split::Train, title),
            std::make_shared<data::MnistIdx>(data::dataset_dir(name), data::Split::Test, title),
            ""};
  }
  if (name == "cifar10") {
    std::string root = dir.empty() ? data::dataset_dir("cifar10") : dir;
    return {std::make_shared<data::Cifar10>(root, data::Split::Train),
            std::make_shared<data::Cifar10>(root, data::Split::Test), ""};
  }
  if (name == "folder" && !dir.empty()) {
    data::ImageFolderOptions o;
    o.size = c.image_size > 0 ? c.image_size : 64;
    o.channels = c.channels > 0 ? c.channels : 3;
    data::FolderSplits folder = data::open_image_folder(dir, o, c.val_fraction);
    return {folder.train, folder.validation, folder.layout};
  }
  throw std::invalid_argument("--data: unknown dataset '" + c.data +
                              "'; known: " + data_choices(", "));
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

// Correct predictions and images seen on this rank's share of the test set.
std::pair<int64_t, int64_t> evaluate(nn::Module& model, data::DataLoader& test, Backend& backend,
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
  return {correct, seen};
}

// A rank bound to fewer cores than it runs threads (Open MPI binds each rank to one core when
// it starts two or fewer) would time-share them: say so and how to launch instead.
std::string binding_warning(const Backend& backend) {
  cpu_set_t set;
  if (backend.is_gpu() || sched_getaffinity(0, sizeof set, &set) != 0) return "";
  int cores = CPU_COUNT(&set);
  if (backend.threads() <= cores) return "";
  std::string threads = std::to_string(backend.threads());
  return "warning: " + threads + " threads on " + std::to_string(cores) +
         " core(s) this rank is bound to; launch with mpirun --bind-to none or --map-by slot:PE=" +
         threads + ", or use --threads " + std::to_string(cores);
}

// After rank 0 alone has read a checkpoint: the epoch, the random streams' positions and the
// optimizer's state to every rank (the parameters and buffers follow with DataParallel's own
// broadcast), so a run on several machines needs the file only where rank 0 runs.
int64_t share_resumed_state(int64_t epoch, nn::Module& model, optim::Optimizer& optimizer,
                            optim::GradScaler& scaler, distributed::Communicator& comm) {
  std::string state;
  if (distributed::world().primary()) {
    state = std::to_string(epoch);
    for (const auto& [name, gen] : model.named_generators())
      state += " " + std::to_string(gen->offset);
    // Loss scaling's state; the scale in hexadecimal, which reads back exactly.
    std::ostringstream scale;
    scale << std::hexfloat << scaler.scale_value();
    state += " " + scale.str() + " " + std::to_string(scaler.growth_tracker());
  }
  distributed::broadcast(state, 0);
  std::istringstream is(state);
  is >> epoch;
  for (const auto& [name, gen] : model.named_generators()) is >> gen->offset;
  std::string scale;
  int64_t growth_tracker = 0;
  char* scale_end = nullptr;
  if (!(is >> scale >> growth_tracker))
    throw std::runtime_error("--resume: rank " + std::to_string(distributed::world().rank) +
                             " received a malformed resumed state from rank 0: '" + state + "'");
  double scale_value = std::strtod(scale.c_str(), &scale_end);
  if (*scale_end != '\0' || !(scale_value > 0))
    throw std::runtime_error("--resume: rank 0 sent the loss scale '" + scale + "', expected a positive number");
  if (scaler.enabled()) scaler.load_state(scale_value, growth_tracker);
  distributed::broadcast_optimizer_state(comm, optimizer);
  return epoch;
}
}  // namespace

std::string NumberRange::str() const {
  if (std::isinf(high)) return (low_open ? "> " : ">= ") + format_number(low);
  return std::string("in ") + (low_open ? "(" : "[") + format_number(low) + ", " +
         format_number(high) + (high_open ? ")" : "]");
}

const NumberRange& number_range(const std::string& flag) {
  constexpr double kNoBound = std::numeric_limits<double>::infinity();
  // Normalisation: pixel / 255 lies in [0, 1], so a sensible mean does too and a std below 1;
  // the bounds leave three orders of magnitude either side and keep every normalised value
  // (at most about 10^6) far from float overflow.
  static const std::map<std::string, NumberRange> ranges = {
      {"--lr", {0, kNoBound, true, false}},
      {"--momentum", {0, 1, false, true}},
      {"--weight-decay", {0, kNoBound, false, false}},
      {"--norm-mean", {-1000, 1000, false, false}},
      {"--norm-std", {0.001, 1000, false, false}},
      {"--val-fraction", {0, 1, true, true}},
  };
  auto it = ranges.find(flag);
  if (it == ranges.end()) throw std::logic_error("number_range: no range for " + flag);
  return it->second;
}

std::string number_problem(const NumberRange& r, double v) {
  bool inside = std::isfinite(v) && (r.low_open ? v > r.low : v >= r.low) &&
                (r.high_open ? v < r.high : v <= r.high);
  return inside ? "" : "must be a finite number " + r.str() + ", got " + format_number(v);
}

std::string data_choices(const std::string& separator) {
  std::string out;
  auto add = [&](const std::string& form) { out += (out.empty() ? "" : separator) + form; };
  for (const auto& d : data_sources()) {
    if (d.dir != DataSource::NeedsDir) add(d.name);
    if (d.dir != DataSource::NoDir) add(d.name + ":DIR");
  }
  return out;
}

void validate(const ExperimentConfig& c) {
  auto fail = [](const std::string& m) { throw std::invalid_argument(m); };
  auto check_number = [&](const std::string& flag, double v) {
    std::string problem = number_problem(number_range(flag), v);
    if (!problem.empty()) fail(flag + " " + problem);
  };
  if (c.epochs < 1) fail("--epochs must be >= 1, got " + std::to_string(c.epochs));
  if (c.batch_size < 1) fail("--batch-size must be >= 1, got " + std::to_string(c.batch_size));
  models::check_model_name(c.model);
  check_number("--lr", c.lr);
  if (c.optimizer != "sgd" && c.optimizer != "adam")
    fail("--optimizer must be sgd or adam, got '" + c.optimizer + "'");
  check_number("--momentum", c.momentum);
  // As torch.optim.Adam(momentum=0.9) is a TypeError: a momentum Adam would silently ignore.
  if (c.optimizer == "adam" && c.momentum != 0)
    fail(
        "--momentum " + format_number(c.momentum) +
        " is SGD's: Adam takes no momentum (its first-moment decay, beta1 = 0.9, plays that part)" +
        (momentum_from_preset(c) ? "; the preset " + c.experiment + " sets it: add --momentum 0"
                                 : ""));
  check_number("--weight-decay", c.weight_decay);
  if (c.workers < 0 || c.workers > 64)
    fail("--workers must be in [0, 64], got " + std::to_string(c.workers));
  if (c.threads < 0 || c.threads > 256)
    fail("--threads must be in [0, 256], got " + std::to_string(c.threads));
  for (float v : c.norm_mean) check_number("--norm-mean", v);
  for (float v : c.norm_std) check_number("--norm-std", v);
  if (c.val_fraction) check_number("--val-fraction", *c.val_fraction);
  if (c.val_fraction && c.data.rfind("folder:", 0) != 0)
    fail("--val-fraction applies to --data folder:DIR, not " + c.data);
  if (c.image_size < 0 || c.image_size > 4096)
    fail("--image-size must be in [0, 4096], got " + std::to_string(c.image_size));
  if (c.channels != 0 && c.channels != 1 && c.channels != 3)
    fail("--channels must be 1 or 3, got " + std::to_string(c.channels));
  if (c.limit < 0) fail("--limit must be >= 0, got " + std::to_string(c.limit));
  if (c.precision != "fp32" && c.precision != "tf32" && c.precision != "fp16" && c.precision != "bf16")
    fail("--precision must be fp32, tf32, fp16 or bf16, got '" + c.precision + "'");
  if (c.metrics && !c.profile)
    fail("--metrics needs --profile: the counters go into the profile's op table");
  if (c.metrics && c.ranks > 1)
    fail("--metrics counts the kernels of one process: run it with 1 rank, not " + std::to_string(c.ranks));
  if (c.ranks < 0 || c.ranks > 4096)
    fail("ranks must be in [1, 4096], got " + std::to_string(c.ranks));
  if (c.bucket_kib < 1 || c.bucket_kib > (int64_t(1) << 30))
    fail("--bucket-kib must be in [1, 2^30], got " + std::to_string(c.bucket_kib));
  if (c.data == "folder:" || c.data == "folder")
    fail(
        "--data folder:DIR needs the directory (DIR/<class>, or DIR/train and DIR/val or "
        "DIR/test)");
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

namespace {
// The checkpoint a run would resume from must be of this run's recipe: the model, optimizer
// and seed (the data order follows from the seed), and SGD's momentum, which its buffers hold.
void check_resumable(const ExperimentConfig& c, const CheckpointInfo& info) {
  if (info.model != c.model || info.optimizer != c.optimizer || info.seed != c.seed)
    throw std::invalid_argument("--resume " + c.resume + ": the checkpoint is of model " +
                                info.model + ", optimizer " + info.optimizer + ", seed " +
                                std::to_string(info.seed) + "; this run asks for " + c.model +
                                ", " + c.optimizer + ", seed " + std::to_string(c.seed));
  // PyTorch's load_state_dict would quietly take the checkpoint's momentum over the one the
  // script asks for; a mismatch here is refused so that neither value is dropped unseen.
  if (c.optimizer == "sgd" && info.momentum && *info.momentum != c.momentum)
    throw std::invalid_argument("--resume " + c.resume +
                                ": the checkpoint was trained with --momentum " +
                                format_number(*info.momentum) + "; this run asks for --momentum " +
                                format_number(c.momentum) + ", which would " +
                                (c.momentum == 0 ? "drop its momentum buffers"
                                                 : "reuse its momentum buffers at another decay") +
                                ". Resume with --momentum " + format_number(*info.momentum));
  if (info.epoch >= c.epochs)
    throw std::invalid_argument("--resume " + c.resume + ": the checkpoint has " +
                                std::to_string(info.epoch) + " epochs done; --epochs " +
                                std::to_string(c.epochs) + " leaves nothing to train");
}
}  // namespace

RunResult run_experiment(const ExperimentConfig& c, const RunHooks& all_hooks) {
  validate(c);
  // A run started by an MPI launcher is data parallel: each rank trains on its shard of every
  // epoch and rank 0 alone reports, reads the checkpoint it resumes from and writes checkpoints.
  const distributed::World& world = distributed::world();
  const RunHooks hooks = world.primary() ? all_hooks : RunHooks{};
  if (c.ranks > 0 && c.ranks != world.size)
    throw std::logic_error("run_experiment: the run asks for " + std::to_string(c.ranks) +
                           " ranks but this world has " + std::to_string(world.size));
  if (!c.checkpoint.empty() && world.primary()) {  // now, not after the first epoch has trained
    try {
      check_safetensors_writable(c.checkpoint);
    } catch (const std::runtime_error& e) {
      throw std::invalid_argument(std::string("--checkpoint: ") + e.what());
    }
  }
  std::optional<CheckpointInfo> resumed;
  if (!c.resume.empty() && world.primary()) {  // before the data is loaded and the model built
    resumed = read_checkpoint_info(c.resume);
    check_resumable(c, *resumed);
  }
  if (c.metrics && c.backend != "cuda-sim")
    throw std::invalid_argument("--metrics counts the memory accesses of cuda-sim's kernels: use --backend cuda-sim, not " +
                                c.backend);
  if (c.metrics) sim::find_gpu(c.gpu);  // an unknown --gpu fails before the run
  Backend& backend = c.metrics ? get_observed_sim_backend() : get_backend(c.backend);
  if (c.threads > 0) backend.set_threads(c.threads);
  std::string precision = backend.set_precision(c.precision == "tf32" ? Precision::TF32 : Precision::FP32);
  MixedPrecision mixed(c.precision);
  if (mixed.on) {
    // Every op but those of the float32 master weights runs in the 16-bit dtype somewhere.
    // Every backend has them today; a backend added to the registry without them is refused here.
    std::string missing;
    for (Op op : {
#define NNLAB_OP(Name, stem, params) Op::Name,
#include "nnlab/core/ops.def"
         })
      if (!is_master_weight_op(op) && !backend.supports(op, mixed.dtype))
        missing += std::string(missing.empty() ? "" : ", ") + op_name(op);
    if (!missing.empty())
      throw std::invalid_argument("--precision " + c.precision + ": backend " + backend.name() +
                                  " has no " + dtype_name(mixed.dtype) + " kernels for " + missing);
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
  train_options.shards = world.size;
  train_options.shard = world.rank;
  Datasets datasets = load_data(c);
  auto train_set = datasets.train, test_set = datasets.test;
  if (test_set->classes() != train_set->classes())
    throw data::DataError("the test split has " + std::to_string(test_set->classes()) +
                          " classes, the training split " + std::to_string(train_set->classes()));
  train_options.transforms = transforms_for(c, *train_set, true);
  data::LoaderOptions test_options = train_options;
  test_options.transforms = transforms_for(c, *test_set, false);
  test_options.shuffle = false;
  test_options.limit = 0;
  test_options.batch_size = std::min<int64_t>(c.batch_size, 256);
  test_options.pad_shards = false;  // every test image counted once, by one rank
  data::DataLoader train(train_set, train_options), test(test_set, test_options);

  Generator gen(c.seed);
  auto model =
      models::make_model(c.model, train.sample_shape(), train_set->classes(), backend, gen);
  auto optimizer = make_optimizer(c, model->parameters());

  RunResult result;
  result.backend = backend.name();
  result.device = backend.device();
  result.threads = backend.threads();
  result.ranks = world.size;
  result.parameters = model->parameter_count();
  result.precision = precision;
  say("backend: " + result.backend + " (" + result.device + "); precision " + precision);
  say("model: " + c.model + ", " + std::to_string(result.parameters) +
      " parameters; optimizer: " + optimizer->describe());
  if (!datasets.layout.empty()) say("split: " + datasets.layout);
  std::string per_rank = world.launched ? " per rank" : "";
  say("data: " + train_set->describe() + "; training on " + std::to_string(train.samples()) +
      " images" + per_rank + ", batch " + std::to_string(c.batch_size) + per_rank + ", " +
      std::to_string(c.workers) + " loader workers" + per_rank);

  std::unique_ptr<distributed::Communicator> comm;
  if (world.launched) comm = distributed::make_communicator(backend);
  int first_epoch = 1;
  if (resumed) {
    load_checkpoint(c.resume, *model, *optimizer);
    if (scaler.enabled() && resumed->loss_scale > 0)  // resumes fp16 with the scale it had reached
      scaler.load_state(resumed->loss_scale, resumed->loss_scale_growth_tracker);
    first_epoch = int(resumed->epoch) + 1;
    say("resumed from " + c.resume + " after epoch " + std::to_string(resumed->epoch));
    // Another precision than the checkpoint's may resume (the weights are float32 either way,
    // as PyTorch allows), but what happens to the loss scale is said, not silent.
    if (!scaler.enabled() && resumed->loss_scale > 0)
      say("--resume: the checkpoint's fp16 loss scale (" + format_number(resumed->loss_scale) +
          ") is not used: --precision " + c.precision + " does not scale the loss");
    else if (scaler.enabled() && resumed->loss_scale <= 0)
      say("--resume: the checkpoint has no loss scale (it was not trained in fp16): fp16 starts at " +
          format_number(scaler.scale_value()));
  }
  std::optional<distributed::DataParallel> data_parallel;
  if (world.launched) {
    if (!c.resume.empty())
      first_epoch = int(share_resumed_state(first_epoch - 1, *model, *optimizer, scaler, *comm)) + 1;
    distributed::DataParallelOptions options;
    options.bucket_bytes = size_t(c.bucket_kib) << 10;
    options.overlap = c.overlap;
    data_parallel.emplace(*model, *comm, options);
    result.transport = comm->describe();
    const auto& stats = data_parallel->stats();
    say("data parallel: " + std::to_string(world.size) + " ranks started by " + world.launcher +
        "; global batch " + std::to_string(c.batch_size * world.size) + "; gradients averaged by " +
        result.transport + ", " + format_bytes(size_t(stats.bytes)) +
        " per step in buckets of at most " + std::to_string(c.bucket_kib) + " KiB, " +
        (c.overlap ? "started during backward" : "all after backward") +
        "; batch norm on per-rank statistics");
    std::string warning = binding_warning(backend);
    if (!warning.empty()) say(warning);
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
  // Results never depend on it: every op is bit-identical for any thread count. Off under
  // --profile (one thread count per profile) and for data parallel ranks.
  ThreadChooser thread_chooser(backend, !c.fixed_threads && !c.profile && !data_parallel);
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
      profile.gpu = &sim::find_gpu(c.gpu);
      recording->on_launch = [&](sim::LaunchMetrics&& m) {
        SimCounters& op = profile.counters[m.label];
        op.gpu = profile.gpu;
        op.add(m);
      };
    }
    for (;;) {
      auto mark = Clock::now();
      const auto step_start = mark;
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
      if (data_parallel) {
        data_parallel->finish_gradient_sync();
        phase_end(mark, profile.allreduce_wait);
      }
      // Skipped when a scaled gradient overflowed: every rank sees the same averaged gradients,
      // so every rank skips the same steps.
      scaler.step(*optimizer);
      scaler.update();
      phase_end(mark, profile.optimizer);
      double loss_value = loss.item();
      if (!std::isfinite(loss_value))
        throw NumericsError(non_finite_report(c, *model, epoch, batches + 1, loss_value));
      loss_sum += loss_value;
      thread_chooser.step_done(seconds_since(step_start));  // loss.item() waited for the step
      ++batches;
      images += batch->shape[0];
      if (hooks.on_progress)
        hooks.on_progress({epoch, c.epochs, images * world.size, train.samples() * world.size,
                           seconds_since(start)});
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
    // Every rank evaluates its share of the test set with rank 0's batch-norm statistics.
    if (data_parallel) data_parallel->broadcast_buffers();
    auto [correct, seen] = evaluate(*model, test, backend, mixed);
    std::vector<double> sums{loss_sum, double(batches), double(images), double(correct),
                             double(seen)};
    std::vector<double> peak{double(backend.allocator().stats().peak_bytes)};
    distributed::all_reduce(sums, distributed::Reduction::Sum);
    distributed::all_reduce(peak, distributed::Reduction::Max);
    stats.train_loss = sums[0] / sums[1];
    stats.images_per_second = sums[2] / stats.train_seconds;
    stats.test_accuracy = sums[3] / sums[4];
    stats.peak_bytes = size_t(peak[0]);
    if (scaler.enabled()) {
      stats.loss_scale = scaler.scale_value();
      stats.skipped_steps = scaler.skipped_steps() - skipped_before;
    }
    stats.one_thread_steps = thread_chooser.take_one_thread_steps();
    result.epochs.push_back(stats);
    if (!c.checkpoint.empty() && world.primary()) {
      CheckpointInfo info;
      info.epoch = epoch;
      info.model = c.model;
      info.optimizer = c.optimizer;
      info.seed = c.seed;
      if (c.optimizer == "sgd") info.momentum = c.momentum;
      if (scaler.enabled()) {
        info.loss_scale = scaler.scale_value();
        info.loss_scale_growth_tracker = scaler.growth_tracker();
      }
      save_checkpoint(c.checkpoint, *model, *optimizer, info);
    }
    if (hooks.on_epoch) hooks.on_epoch(stats);
  }
  if (data_parallel) profile.allreduce = data_parallel->stats();
  return result;
}

}  // namespace nnlab::apps
