#include "nnlab/data/loader.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "nnlab/core/allocator.h"
#include "nnlab/core/philox.h"

namespace nnlab::data {

std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    philox::Uint4 r = philox::philox4x32_10(uint64_t(epoch) << 32 | uint64_t(i), seed);
    uint64_t draw = uint64_t(r.x) << 32 | r.y;  // 64 bits: the modulo bias is below 2^-30
    std::swap(order[size_t(i)], order[size_t(draw % uint64_t(i + 1))]);
  }
  return order;
}

std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int shards, int shard,
                                 bool pad) {
  if (shards < 1 || shard < 0 || shard >= shards)
    throw std::invalid_argument("shard_order: shard " + std::to_string(shard) + " of " +
                                std::to_string(shards) + " does not exist");
  int64_t n = int64_t(order.size()), total = n;
  if (pad && n > 0) total = (n + shards - 1) / shards * shards;
  std::vector<int64_t> part;
  part.reserve(size_t((total + shards - 1) / shards));
  for (int64_t i = shard; i < total; i += shards) part.push_back(order[size_t(i % n)]);
  return part;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (options_.batch_size < 1)
    throw std::invalid_argument("DataLoader: batch size must be >= 1, got " +
                                std::to_string(options_.batch_size));
  if (options_.workers < 0) throw std::invalid_argument("DataLoader: workers must be >= 0");
  if (options_.prefetch < 1) throw std::invalid_argument("DataLoader: prefetch must be >= 1");
  if (options_.shards < 1 || options_.shard < 0 || options_.shard >= options_.shards)
    throw std::invalid_argument("DataLoader: shard " + std::to_string(options_.shard) + " of " +
                                std::to_string(options_.shards) + " does not exist");
  const Transforms& t = options_.transforms;
  int64_t source_channels = dataset_->sample_shape()[0];
  if (t.pad < 0 || t.crop_padding < 0) throw std::invalid_argument("DataLoader: padding must be >= 0");
  if (t.channels != 0 && t.channels != source_channels && !(source_channels == 1 && t.channels == 3))
    throw std::invalid_argument("DataLoader: cannot turn " + std::to_string(source_channels) + " channels into " +
                                std::to_string(t.channels) + " (only 1 -> 3 by replication)");
  size_t channels = size_t(sample_shape()[0]);
  for (auto* v : {&options_.normalize.mean, &options_.normalize.std}) {
    if (v->size() == 1) v->resize(channels, v->front());
    if (v->size() != channels)
      throw std::invalid_argument("DataLoader: normalisation has " + std::to_string(v->size()) +
                                  " values for " + std::to_string(channels) + " channels");
  }
  for (float s : options_.normalize.std)
    if (!(s > 0)) throw std::invalid_argument("DataLoader: normalisation std must be > 0");
  if (used_samples() == 0)
    throw std::invalid_argument("DataLoader: " + dataset_->describe() + " is empty");
}

DataLoader::~DataLoader() {
  stop_workers();
}

int64_t DataLoader::used_samples() const {
  int64_t n = dataset_->size();
  return options_.limit > 0 ? std::min(n, options_.limit) : n;
}

int64_t DataLoader::samples() const {
  int64_t n = used_samples(), shards = options_.shards;
  if (shards == 1 || n == 0) return n;
  return options_.pad_shards ? (n + shards - 1) / shards
                             : (n - options_.shard + shards - 1) / shards;
}

Shape DataLoader::sample_shape() const {
  Shape s = dataset_->sample_shape();
  const Transforms& t = options_.transforms;
  return Shape{t.channels ? t.channels : s[0], s[1] + 2 * t.pad, s[2] + 2 * t.pad};
}

void DataLoader::transform(int64_t sample, const std::vector<uint8_t>& in, std::vector<uint8_t>& out) const {
  const Transforms& t = options_.transforms;
  Shape src = dataset_->sample_shape(), dst = sample_shape();
  int64_t c_in = src[0], h_in = src[1], w_in = src[2], c = dst[0], h = dst[1], w = dst[2];
  // Random choices for this sample and epoch: crop offsets and flip.
  philox::Uint4 r = philox::philox4x32_10(uint64_t(epoch_) << 40 | uint64_t(sample), options_.seed ^ 0x5eedc0de);
  int64_t span = 2 * t.crop_padding + 1;
  int64_t dy = t.crop_padding ? int64_t(r.x % uint64_t(span)) - t.crop_padding : 0;
  int64_t dx = t.crop_padding ? int64_t(r.y % uint64_t(span)) - t.crop_padding : 0;
  bool flip = t.random_flip && (r.z & 1);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        // Output (y, x) reads the padded image at (y + dy, x + dx), mirrored when flipped.
        int64_t sx = (flip ? w - 1 - x : x) + dx - t.pad, sy = y + dy - t.pad;
        bool inside = sy >= 0 && sy < h_in && sx >= 0 && sx < w_in;
        out[size_t((ch * h + y) * w + x)] = inside ? in[size_t(((c_in == 1 ? 0 : ch) * h_in + sy) * w_in + sx)] : 0;
      }
}

int64_t DataLoader::batches_per_epoch() const {
  int64_t n = samples(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::start_epoch(int64_t epoch) {
  stop_workers();
  epoch_ = epoch;
  int64_t n = used_samples();
  if (options_.shuffle) {
    order_ = shuffled_order(n, options_.seed, epoch);
  } else {
    order_.resize(size_t(n));
    std::iota(order_.begin(), order_.end(), 0);
  }
  if (options_.shards > 1)
    order_ = shard_order(order_, options_.shards, options_.shard, options_.pad_shards);
  next_to_hand_out_ = 0;
  next_to_assemble_ = 0;
  ready_.clear();
  failure_ = nullptr;
  stopping_ = false;
  epoch_started_ = true;
  for (int w = 0; w < options_.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

Batch DataLoader::assemble(int64_t batch_index) const {
  int64_t begin = batch_index * options_.batch_size;
  int64_t count = std::min<int64_t>(options_.batch_size, int64_t(order_.size()) - begin);
  Shape sample = sample_shape();
  int64_t c = sample[0], plane = sample[1] * sample[2], per_sample = c * plane;
  const Transforms& t = options_.transforms;
  bool identity = t.pad == 0 && (t.channels == 0 || t.channels == dataset_->sample_shape()[0]) &&
                  t.crop_padding == 0 && !t.random_flip;
  Batch batch;
  batch.index = batch_index;
  batch.shape = Shape{count, c, sample[1], sample[2]};
  try {
    batch.images.resize(size_t(count * per_sample));
    batch.labels.resize(size_t(count));
  } catch (const std::bad_alloc&) {
    throw HostOutOfMemory("a batch of " + std::to_string(count) + " images of " +
                              std::to_string(c) + "x" + std::to_string(sample[1]) + "x" +
                              std::to_string(sample[2]) + " as float32",
                          size_t(count * per_sample) * sizeof(float), std::nullopt);
  }
  std::vector<uint8_t> raw(static_cast<size_t>(dataset_->sample_shape().numel()));
  std::vector<uint8_t> pixels(static_cast<size_t>(per_sample));
  const auto& norm = options_.normalize;
  // Samples kAhead places ahead are fetched while this one is copied (MNIST's 47 MB of pixels,
  // read in shuffled order, miss the cache: see the commit).
  constexpr int64_t kAhead = 4;
  for (int64_t i = 0; i < std::min(count, kAhead); ++i) dataset_->prefetch(order_[size_t(begin + i)]);
  for (int64_t i = 0; i < count; ++i) {
    if (i + kAhead < count) dataset_->prefetch(order_[size_t(begin + i + kAhead)]);
    int64_t index = order_[size_t(begin + i)];
    batch.labels[size_t(i)] = dataset_->get(index, identity ? pixels.data() : raw.data());
    if (!identity) transform(index, raw, pixels);
    // __restrict: uint8_t may alias anything, which would keep this loop from vectorising.
    float* __restrict out = batch.images.data() + i * per_sample;
    const uint8_t* __restrict in = pixels.data();
    for (int64_t ch = 0; ch < c; ++ch) {
      float scale = 1.0f / (255.0f * norm.std[size_t(ch)]),
            shift = norm.mean[size_t(ch)] / norm.std[size_t(ch)];
      for (int64_t p = ch * plane; p < (ch + 1) * plane; ++p) out[p] = float(in[p]) * scale - shift;
    }
  }
  return batch;
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // Wait for room: at most `prefetch` batches beyond the one the consumer takes next.
    changed_.wait(lock, [&] {
      return stopping_ || next_to_assemble_ < next_to_hand_out_ + options_.prefetch;
    });
    if (stopping_ || next_to_assemble_ >= batches_per_epoch()) return;
    int64_t index = next_to_assemble_++;
    lock.unlock();
    std::optional<Batch> batch;
    std::exception_ptr error;
    try {
      batch = assemble(index);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !failure_) failure_ = error;
    if (batch) ready_.emplace(index, std::move(*batch));
    changed_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  if (!epoch_started_) throw std::logic_error("DataLoader::next() before start_epoch()");
  if (next_to_hand_out_ >= batches_per_epoch()) return std::nullopt;
  int64_t index = next_to_hand_out_;
  if (workers_.empty()) {
    ++next_to_hand_out_;
    return assemble(index);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return failure_ || ready_.count(index); });
  if (failure_) std::rethrow_exception(failure_);
  Batch batch = std::move(ready_.at(index));
  ready_.erase(index);
  ++next_to_hand_out_;
  changed_.notify_all();
  return batch;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

}  // namespace nnlab::data
