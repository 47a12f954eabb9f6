#include "nnlab/data/idx.h"

#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <memory>

namespace nnlab::data {
namespace {
constexpr size_t kMaxFileBytes = size_t(1) << 30;  // a bound on decompressed input: 1 GiB

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// The whole file, decompressed when it is gzip (zlib reads plain files unchanged).
std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw DataError(path + ": no such file");
  if (std::filesystem::is_directory(path, ec))
    throw DataError(path + ": is a directory, expected an IDX file");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  if (!file) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    int n = gzread(file.get(), chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(file.get(), &code);
      throw DataError(path + ": corrupt or truncated gzip data (" + msg + ")");
    }
    if (n == 0) break;  // end of input; a premature end shows in gzerror below
    if (bytes.size() + size_t(n) > kMaxFileBytes)
      throw DataError(path + ": more than 1 GiB of data, larger than any IDX file of this project");
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  int code = Z_OK;
  const char* msg = gzerror(file.get(), &code);
  if (code != Z_OK) throw DataError(path + ": corrupt or truncated gzip data (" + msg + ")");
  return bytes;
}

uint32_t big_endian(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
}  // namespace

IdxArray read_idx(const std::string& path, int rank) {
  std::vector<uint8_t> bytes = read_file(path);
  size_t header = 4 + 4 * size_t(rank);
  if (bytes.size() < header)
    throw DataError(path + ": truncated: " + std::to_string(bytes.size()) +
                    " bytes, expected at least a " + std::to_string(header) + "-byte IDX header");
  uint32_t magic = big_endian(bytes.data()), expected = 0x0800u | uint32_t(rank);
  if (magic != expected)
    throw DataError(path + ": wrong magic " + hex(magic) + ", expected " + hex(expected) +
                    " (unsigned bytes, " + std::to_string(rank) + " dimension" +
                    (rank == 1 ? "" : "s") + ")");
  IdxArray out;
  uint64_t count = 1;
  size_t payload = bytes.size() - header;
  std::string dims_text;
  for (int d = 0; d < rank; ++d) {
    uint32_t size = big_endian(bytes.data() + 4 + 4 * d);
    out.dims.push_back(int64_t(size));
    dims_text += (d ? " x " : "") + std::to_string(size);
    // Partial products are checked against the payload (at most 1 GiB) before the next
    // multiplication, so the count cannot overflow 64 bits.
    count *= size;
    if (d + 1 < rank && count > payload)
      throw DataError(path + ": header dimensions " + dims_text + (d + 1 < rank ? " ..." : "") +
                      " exceed the " + std::to_string(payload) + " bytes of data in the file");
  }
  if (count != payload)
    throw DataError(path + ": header dimensions " + dims_text + " promise " +
                    std::to_string(count) + " bytes of data, the file holds " +
                    std::to_string(payload));
  out.values.assign(bytes.begin() + long(header), bytes.end());
  return out;
}

std::string find_idx_file(const std::string& dir, const std::string& stem, int rank) {
  std::string suffix = "idx" + std::to_string(rank) + "-ubyte";
  std::vector<std::string> tried;
  for (const char* sep : {"-", "."})
    for (const char* ext : {"", ".gz"}) {
      std::string path = (std::filesystem::path(dir) / (stem + sep + suffix + ext)).string();
      std::error_code ec;
      if (std::filesystem::is_regular_file(path, ec)) return path;
      tried.push_back(std::filesystem::path(path).filename().string());
    }
  std::string names;
  for (const auto& t : tried) names += (names.empty() ? "" : ", ") + t;
  throw DataError(dir + ": no " + stem + " IDX file (tried " + names + ")");
}

MnistIdx::MnistIdx(const std::string& dir, Split split, const std::string& name) : name_(name) {
  std::string prefix = split == Split::Train ? "train" : "t10k";
  images_path_ = find_idx_file(dir, prefix + "-images", 3);
  std::string labels_path = find_idx_file(dir, prefix + "-labels", 1);
  IdxArray images = read_idx(images_path_, 3);
  IdxArray labels = read_idx(labels_path, 1);
  if (images.dims[1] == 0 || images.dims[2] == 0)
    throw DataError(images_path_ + ": images of size " + std::to_string(images.dims[1]) + " x " +
                    std::to_string(images.dims[2]) + ", expected non-empty images");
  if (labels.dims[0] != images.dims[0])
    throw DataError(labels_path + ": " + std::to_string(labels.dims[0]) + " labels, but " +
                    images_path_ + " holds " + std::to_string(images.dims[0]) + " images");
  for (size_t i = 0; i < labels.values.size(); ++i)
    if (labels.values[i] >= 10)
      throw DataError(labels_path + ": label " + std::to_string(labels.values[i]) + " at index " +
                      std::to_string(i) + ", expected 0..9");
  count_ = images.dims[0];
  rows_ = images.dims[1];
  cols_ = images.dims[2];
  pixels_ = std::move(images.values);
  labels_ = std::move(labels.values);
}

int32_t MnistIdx::get(int64_t index, uint8_t* pixels) const {
  size_t n = size_t(rows_ * cols_);
  std::memcpy(pixels, pixels_.data() + size_t(index) * n, n);
  return labels_[size_t(index)];
}

std::string MnistIdx::describe() const {
  return name_ + " (" + images_path_ + "): " + std::to_string(count_) + " images " +
         std::to_string(rows_) + "x" + std::to_string(cols_);
}

}  // namespace nnlab::data
