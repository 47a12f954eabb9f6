#include "nnlab/data/cifar10.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

namespace nnlab::data {

std::vector<std::string> cifar10_files(Split split) {
  if (split == Split::Test) return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
}

Cifar10::Cifar10(const std::string& dir, Split split) : dir_(dir) {
  namespace fs = std::filesystem;
  // Every file's size is checked before any is read, so that the pixels' store is allocated
  // once, at its final size.
  std::vector<std::pair<std::string, uintmax_t>> files;
  uintmax_t records = 0;
  for (const std::string& name : cifar10_files(split)) {
    std::string path = (fs::path(dir) / name).string();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw DataError(path + ": no such file (a CIFAR-10 binary batch)");
    uintmax_t bytes = fs::file_size(path, ec);
    if (ec || bytes == 0 || bytes % kCifarRecordBytes != 0)
      throw DataError(path + ": " + std::to_string(bytes) + " bytes, expected a whole number of " +
                      std::to_string(kCifarRecordBytes) + "-byte records (1 label + 3072 pixels)");
    files.emplace_back(path, bytes);
    records += bytes / kCifarRecordBytes;
  }
  pixels_ = SampleStore(size_t(records) * 3072);
  labels_.reserve(size_t(records));
  for (const auto& [path, bytes] : files) {
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> raw(static_cast<size_t>(bytes));
    if (!in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(bytes)))
      throw DataError(path + ": read failed after " + std::to_string(in.gcount()) + " bytes");
    for (size_t r = 0; r < raw.size() / kCifarRecordBytes; ++r) {
      const uint8_t* record = raw.data() + r * kCifarRecordBytes;
      if (record[0] >= 10)
        throw DataError(path + ": label " + std::to_string(record[0]) + " in record " + std::to_string(r) +
                        ", expected 0..9");
      std::memcpy(pixels_.data() + labels_.size() * 3072, record + 1, 3072);
      labels_.push_back(record[0]);
    }
  }
}

int32_t Cifar10::get(int64_t index, uint8_t* pixels) const {
  std::memcpy(pixels, pixels_.data() + size_t(index) * 3072, 3072);
  return labels_[size_t(index)];
}

void Cifar10::prefetch(int64_t index) const {
  for (size_t at = 0; at < 3072; at += 64) __builtin_prefetch(pixels_.data() + size_t(index) * 3072 + at);
}

std::string Cifar10::describe() const {
  return "CIFAR-10 (" + dir_ + "): " + std::to_string(size()) + " images 3x32x32";
}

}  // namespace nnlab::data
