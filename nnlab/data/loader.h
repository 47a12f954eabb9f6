// DataLoader: batches of normalised float32 pixels and int32 labels from a Dataset, as
// torch.utils.data.DataLoader. The order of an epoch is a seeded permutation (same seed and
// epoch, same order); `workers` threads assemble batches ahead into a bounded queue that
// hands them out strictly in order, so every worker count yields identical batches.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "nnlab/data/dataset.h"

namespace nnlab::data {

struct Normalize {  // x = (pixel / 255 - mean[c]) / std[c]; one value applies to all channels
  std::vector<float> mean{0.0f}, std{1.0f};
};

// Per-sample transforms, applied in this order on the workers: zero padding on every side
// (Fashion-MNIST's 28x28 to LeNet's 32x32), grey to RGB by replication, torchvision's
// RandomCrop(size, padding=crop_padding), RandomHorizontalFlip(0.5), then Normalize. Random
// choices come from Philox keyed by (seed, epoch, sample index): the same whatever the worker
// count or batch position.
struct Transforms {
  int64_t pad = 0;
  int64_t channels = 0;  // 0: keep the dataset's; 3 from 1 replicates the grey channel
  int64_t crop_padding = 0;  // > 0: random crop after padding by this much
  bool random_flip = false;
};

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
  int workers = 0;    // 0: batches are assembled on the calling thread
  int prefetch = 4;   // batches that may be ready ahead of the consumer
  int64_t limit = 0;  // use only the first `limit` samples (0: all)
  // Data-parallel training: this loader reads shard `shard` of `shards` (one per rank) of each
  // epoch's order (shard_order below); the order itself is the same on every rank.
  int shards = 1, shard = 0;
  bool pad_shards = true;  // training: equal shards; evaluation (false): each sample once
  Normalize normalize;
  Transforms transforms;
};

struct Batch {
  int64_t index = 0;            // position in the epoch
  Shape shape;                  // {n, c, h, w}
  std::vector<float> images;    // shape.numel() values
  std::vector<int32_t> labels;  // n values
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  void start_epoch(int64_t epoch);  // fixes the order; stops any unfinished epoch
  std::optional<Batch> next();      // the next batch in order, or nullopt at the epoch's end
  int64_t batches_per_epoch() const;
  int64_t samples() const;     // samples this loader reads per epoch (after `limit`, its shard)
  Shape sample_shape() const;  // {c, h, w} after the transforms
  const Dataset& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return options_; }

 private:
  int64_t used_samples() const;  // after `limit`, before sharding
  Batch assemble(int64_t batch_index) const;
  // Applies the transforms to one sample's pixels (in: dataset shape, out: sample_shape()).
  void transform(int64_t sample, const std::vector<uint8_t>& in, std::vector<uint8_t>& out) const;
  void worker_loop();
  void stop_workers();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  int64_t next_to_hand_out_ = 0;
  int64_t epoch_ = 0;
  bool epoch_started_ = false;

  // Shared with the workers, under mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Batch> ready_;
  std::exception_ptr failure_;
  int64_t next_to_assemble_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The seeded permutation of [0, n) used for epoch `epoch` (Fisher-Yates driven by Philox).
std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch);

// Rank `shard`'s part of an epoch's order, as PyTorch's DistributedSampler: positions shard,
// shard + shards, shard + 2 shards, ... With `pad`, the order is first extended by repeating
// its first samples to a multiple of `shards` (at most shards - 1 repeats), so every shard has
// the same length and every rank the same number of steps; without, shards differ by at most
// one and each sample appears in exactly one. Strided rather than contiguous shards keep each
// global batch made of the same samples as one process's batch of shards x the batch size.
std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int shards, int shard,
                                 bool pad);

}  // namespace nnlab::data
