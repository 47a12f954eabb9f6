// Dataset: indexed samples of uint8 pixels (C x H x W, row-major) with an int label. Loaders
// decode into this form; the DataLoader turns samples into normalised float batches.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "nnlab/core/shape.h"

namespace nnlab::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Shape sample_shape() const = 0;  // {channels, height, width}
  virtual int64_t classes() const = 0;
  // Writes sample_shape().numel() bytes to `pixels` and returns the label.
  virtual int32_t get(int64_t index, uint8_t* pixels) const = 0;
  // A hint that get(index) comes soon: datasets held in memory start fetching its bytes into
  // the cache (shuffled batches read samples from all over arrays larger than it).
  virtual void prefetch(int64_t /*index*/) const {}
  virtual std::string describe() const = 0;
};

// A thrown error about an input file: the message names the file and what was wrong.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace nnlab::data
