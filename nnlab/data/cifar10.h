// CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html): data_batch_1..5.bin
// (training) and test_batch.bin, each 10,000 records of 1 label byte + 3072 pixel bytes
// (1024 red, 1024 green, 1024 blue, row-major 32x32: already CHW).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nnlab/data/dataset.h"
#include "nnlab/data/idx.h"  // Split
#include "nnlab/data/sample_store.h"

namespace nnlab::data {

constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;

class Cifar10 : public Dataset {
 public:
  // Throws DataError naming the file when one is missing, not a whole number of records, or
  // holds a label outside 0..9.
  Cifar10(const std::string& dir, Split split);
  int64_t size() const override { return int64_t(labels_.size()); }
  Shape sample_shape() const override { return Shape{3, 32, 32}; }
  int64_t classes() const override { return 10; }
  int32_t get(int64_t index, uint8_t* pixels) const override;
  void prefetch(int64_t index) const override;
  std::string describe() const override;

 private:
  std::string dir_;
  SampleStore pixels_;
  std::vector<uint8_t> labels_;
};

std::vector<std::string> cifar10_files(Split split);  // file names, in order

}  // namespace nnlab::data
