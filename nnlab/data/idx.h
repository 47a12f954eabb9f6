// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/ describes
// it): a big-endian header (magic 0x0000 08 NN: unsigned bytes, NN dimensions; then NN
// sizes) followed by the data. Files may be raw or gzip-compressed, and are found under
// both spellings in use: train-images-idx3-ubyte and train-images.idx3-ubyte (+ ".gz").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nnlab/data/dataset.h"
#include "nnlab/data/sample_store.h"

namespace nnlab::data {

enum class Split { Train, Test };

// The decoded contents of one IDX file of unsigned bytes, read straight into the store that
// MnistIdx keeps them in.
struct IdxArray {
  std::vector<int64_t> dims;
  SampleStore values;
};

// Reads and validates `path` (raw or .gz): magic, rank, and that the sizes in the header
// account for exactly the bytes in the file, and for at most 1 GiB. The header is read and
// checked first, and no more than it promises (plus one byte) is ever decompressed, so a gzip
// bomb costs nothing. Throws DataError naming the file otherwise.
IdxArray read_idx(const std::string& path, int expected_rank);

// The path of `stem` ("train-images", "t10k-labels", ...) in `dir` under any known spelling;
// throws DataError listing the names tried when none exists.
std::string find_idx_file(const std::string& dir, const std::string& stem, int rank);

class MnistIdx : public Dataset {
 public:
  // Loads the train or test split from `dir` (MNIST or Fashion-MNIST: 28x28, 10 classes).
  MnistIdx(const std::string& dir, Split split, const std::string& name = "MNIST");
  int64_t size() const override { return count_; }
  Shape sample_shape() const override { return Shape{1, rows_, cols_}; }
  int64_t classes() const override { return 10; }
  int32_t get(int64_t index, uint8_t* pixels) const override;
  void prefetch(int64_t index) const override;
  std::string describe() const override;

 private:
  std::string name_, images_path_;
  int64_t count_ = 0, rows_ = 0, cols_ = 0;
  SampleStore pixels_;
  std::vector<uint8_t> labels_;
};

}  // namespace nnlab::data
