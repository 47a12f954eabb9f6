// One training run as the apps describe it: a model, a dataset, a backend and a recipe, in,
// and per-epoch measurements out. train runs one; compare_devices runs the same config on
// each backend.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/sim_counters.h"
#include "nnlab/core/allocator.h"
#include "nnlab/core/profiler.h"
#include "nnlab/distributed/data_parallel.h"

namespace nnlab::apps {

struct ExperimentConfig {
  std::string experiment;  // the preset it started from ("": the defaults)
  std::string model = "mlp";
  // mnist | fashion-mnist | cifar10 | cifar10:DIR | folder:DIR (DIR/<class>, or DIR/train and
  // DIR/val or DIR/test: nnlab/data/image_folder.h)
  std::string data = "mnist";
  // folder:DIR with one folder per class: the share of each class held out for validation
  // (unset: data::kDefaultValidationFraction); an error for a folder that is split already.
  std::optional<double> val_fraction;
  int64_t image_size =
      0;  // 0: the data's own; larger pads MNIST-family and CIFAR images, sizes folders
  int64_t channels = 0;  // 0: the data's own (folders: 3); 3 turns grey images into RGB
  bool augment = false;  // random crop (padding 4) and horizontal flip on the training set
  std::string backend = "cpu";
  // fp32 | tf32 (asked of the backend; RunResult says what it used) | fp16 | bf16 (mixed
  // precision as PyTorch's AMP: autocast, and dynamic loss scaling for fp16)
  std::string precision = "fp32";
  int epochs = 5;
  int64_t batch_size = 64;
  double lr = 0.01;
  std::string optimizer = "sgd";  // sgd | adam
  double momentum = 0, weight_decay = 0;
  uint64_t seed = 0;
  int workers = 0;
  int threads = 0;         // 0: the backend's default
  int64_t limit = 0;       // train on the first `limit` images (0: all)
  std::string checkpoint;  // save model + optimizer here after every epoch ("": never)
  std::string resume;      // continue from this checkpoint, at the epoch after its own
  // x = (pixel / 255 - mean) / std, one value or one per channel; the MNIST notebook uses
  // ToTensor() alone (mean 0, std 1), the CIFAR-10 notebook Normalize(0.5, 0.5).
  std::vector<float> norm_mean{0.0f}, norm_std{1.0f};
  bool profile = false;  // time every phase of a step and every op type (RunResult::profile)
  // With profile on cuda-sim: count every kernel's memory accesses per op (RunProfile::counters),
  // running the observed build of the kernels (nnlab/sim/observe.h; slower).
  bool metrics = false;
  // With metrics: the GPU whose time cuda-sim's timing model predicts (nnlab/sim/gpus.json).
  std::string gpu = "t4";
  bool check_numerics = false;  // check every op output and gradient for NaN/inf (slow)
  // Keep the backend's thread count for every step: no timing of steps on one thread
  // (apps/common/thread_chooser.h).
  bool fixed_threads = false;
  // Data parallel (a run started by mpirun or srun; batch_size is then per rank): the
  // gradient buckets' capacity, and whether their all-reduce overlaps backward.
  int64_t bucket_kib = int64_t(distributed::kDefaultBucketBytes >> 10);
  bool overlap = true;
  // The ranks this run needs (0: as many as started it): compare_devices --ranks and sweep
  // --vary ranks start a job of that many (apps/common/ranks.h).
  int ranks = 0;
};

// Where a profiled run's training time went. Phases are host wall time with the backend
// synchronised at each boundary; op times come from the backend's stopwatch (device events
// on GPUs), so on a GPU the phases minus the ops is the host's launch and bookkeeping cost.
struct RunProfile {
  int64_t steps = 0;
  double data_wait = 0, upload = 0, forward = 0, backward = 0, optimizer = 0;  // seconds
  double allreduce_wait = 0;   // data parallel: finishing the gradient all-reduce after backward
  std::map<Op, OpTotals> ops;  // training steps only (evaluation is not profiled)
  std::map<std::string, SimCounters> counters;  // --metrics: cuda-sim's kernels, by op name
  distributed::AllReduceStats allreduce;  // data parallel: rank 0's, whether profiled or not
  const sim::GpuSpec* gpu = nullptr;            // --metrics: the GPU of the predicted times
};

// With several ranks: losses and accuracy over every rank's batches, images/s of all ranks
// together, rank 0's time and the largest peak of any rank.
struct EpochStats {
  int epoch = 0;
  double train_loss = 0;     // mean over the epoch's batches
  double test_accuracy = 0;  // in [0, 1]
  double train_seconds = 0;  // the training loop only (data waits included, evaluation not)
  double images_per_second = 0;
  size_t peak_bytes = 0;  // the backend's peak since the run began
  // --precision fp16: the loss scale at the epoch's end and the steps it skipped because a
  // gradient overflowed (0 and 0 without loss scaling).
  double loss_scale = 0;
  int64_t skipped_steps = 0;
  // Steps run on one thread instead of the backend's count, where that was faster (the thread
  // chooser, apps/common/thread_chooser.h; 0 with --fixed-threads).
  int64_t one_thread_steps = 0;
};

struct RunResult {
  std::string backend, device;
  // what the backend really used: "fp32", "tf32 (...)", "fp32 (... no tf32 mode)", "fp16 (mixed ...)"
  std::string precision;
  int threads = 1;        // per rank
  int ranks = 1;
  std::string transport;  // data parallel: what averaged the gradients ("" for one process)
  int64_t parameters = 0;
  std::vector<EpochStats> epochs;
  RunProfile profile;  // filled when the config asks for it
  double total_train_seconds() const;
  double mean_images_per_second() const;  // over the epochs
  double final_accuracy() const { return epochs.empty() ? 0 : epochs.back().test_accuracy; }
  size_t peak_bytes() const { return epochs.empty() ? 0 : epochs.back().peak_bytes; }
};

// Progress within an epoch, reported after every training step.
struct Progress {
  int epoch = 0, epochs = 0;  // epochs: the last epoch of the run
  int64_t images_done = 0, images_per_epoch = 0;
  double epoch_seconds = 0;  // since the epoch began
};

// What a run reports as it goes; every hook may be empty.
struct RunHooks {
  // The run's description as it starts: backend, device, threads, model, data.
  std::function<void(const std::string& line)> announce;
  std::function<void(const Progress&)> on_progress;
  std::function<void(const EpochStats&)> on_epoch;
};

// Throws std::invalid_argument / data::DataError with a message fit for the user.
RunResult run_experiment(const ExperimentConfig& config, const RunHooks& hooks = {});

// Validates every field, naming the flag (e.g. "--batch-size must be >= 1, got 0").
void validate(const ExperimentConfig& config);

// The values a floating-point flag accepts: finite, and between low and high (high may be
// infinity: no upper bound).
struct NumberRange {
  double low, high;
  bool low_open, high_open;
  std::string str() const;  // "in [0, 1)", "> 0", ">= 0"
};
// The range of each floating-point recipe flag (--lr, --momentum, --weight-decay, --norm-mean,
// --norm-std, --val-fraction); validate() and the flags' parse-time checks both use it.
const NumberRange& number_range(const std::string& flag);
// "" when `value` is finite and in `range`, else "must be a finite number in [0, 1), got nan".
std::string number_problem(const NumberRange& range, double value);

// "mnist | fashion-mnist | cifar10 | cifar10:DIR | folder:DIR": what --data accepts.
std::string data_choices(const std::string& separator);

using nnlab::format_bytes;  // "1.23 MiB" (nnlab/core/allocator.h)

}  // namespace nnlab::apps
