#include "nnlab/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

namespace nnlab::data {
namespace {
constexpr uint64_t kMaxDataBytes = uint64_t(1) << 30;  // a bound on an IDX file's data: 1 GiB

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t big_endian(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// An IDX file read as a stream, decompressed when it is gzip (zlib reads plain files
// unchanged), so that the header is checked before the data is read: a small gzip file can
// hold gigabytes, and only what the header promises is ever inflated.
class IdxStream {
 public:
  explicit IdxStream(const std::string& path) : path_(path), file_(nullptr, gzclose) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw DataError(path + ": no such file");
    if (std::filesystem::is_directory(path, ec))
      throw DataError(path + ": is a directory, expected an IDX file");
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
  }
  // Reads up to `n` bytes into `out`; returns how many there were before the end.
  size_t read(uint8_t* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = unsigned(std::min<size_t>(n - done, size_t(1) << 30));
      int got = gzread(file_.get(), out + done, chunk);
      if (got < 0) throw corrupt();
      if (got == 0) break;  // the end; a premature end of gzip data shows in gzerror
      done += size_t(got);
    }
    int code = Z_OK;
    gzerror(file_.get(), &code);
    if (code != Z_OK) throw corrupt();
    return done;
  }
  // Bytes in the file after the header when it is not compressed (its size is known), else -1.
  int64_t raw_payload(size_t header) const {
    std::error_code ec;
    uintmax_t size = std::filesystem::file_size(path_, ec);
    if (ec || !gzdirect(file_.get())) return -1;
    return size < header ? 0 : int64_t(size - header);
  }

 private:
  DataError corrupt() {
    int code = 0;
    const char* msg = gzerror(file_.get(), &code);
    return DataError(path_ + ": corrupt or truncated gzip data (" + msg + ")");
  }
  std::string path_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_;
};
}  // namespace

IdxArray read_idx(const std::string& path, int rank) {
  IdxStream in(path);
  size_t header_size = 4 + 4 * size_t(rank);
  std::vector<uint8_t> header(header_size);
  size_t got = in.read(header.data(), header_size);
  if (got < header_size)
    throw DataError(path + ": truncated: " + std::to_string(got) + " bytes, expected at least a " +
                    std::to_string(header_size) + "-byte IDX header");
  uint32_t magic = big_endian(header.data()), expected = 0x0800u | uint32_t(rank);
  if (magic != expected)
    throw DataError(path + ": wrong magic " + hex(magic) + ", expected " + hex(expected) +
                    " (unsigned bytes, " + std::to_string(rank) + " dimension" +
                    (rank == 1 ? "" : "s") + ")");
  // The data may not exceed 1 GiB, nor what the file holds when that is known (a raw file).
  int64_t payload = in.raw_payload(header_size);
  IdxArray out;
  uint64_t count = 1;
  std::string dims_text;
  for (int d = 0; d < rank; ++d) {
    uint32_t size = big_endian(header.data() + 4 + 4 * d);
    out.dims.push_back(int64_t(size));
    dims_text += (d ? " x " : "") + std::to_string(size);
    // Each partial product is checked against 1 GiB before the next multiplication, so the
    // count cannot overflow 64 bits.
    count *= size;
    std::string so_far = dims_text + (d + 1 < rank ? " ..." : "");
    if (payload >= 0 && d + 1 < rank && count > uint64_t(payload))
      throw DataError(path + ": header dimensions " + so_far + " exceed the " +
                      std::to_string(payload) + " bytes of data in the file");
    if (count > kMaxDataBytes)
      throw DataError(
          path + ": header dimensions " + so_far +
          " promise more than the 1 GiB limit, larger than any IDX file of this project");
  }
  if (payload >= 0 && count != uint64_t(payload))
    throw DataError(path + ": header dimensions " + dims_text + " promise " +
                    std::to_string(count) + " bytes of data, the file holds " +
                    std::to_string(payload));
  out.values = SampleStore(size_t(count));
  got = in.read(out.values.data(), out.values.size());
  if (got < count)
    throw DataError(path + ": header dimensions " + dims_text + " promise " +
                    std::to_string(count) + " bytes of data, the file holds " +
                    std::to_string(got));
  uint8_t extra = 0;
  if (in.read(&extra, 1) != 0)  // a compressed file's excess is not inflated to be counted
    throw DataError(path + ": header dimensions " + dims_text + " promise " +
                    std::to_string(count) + " bytes of data, the file holds more");
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
  const uint8_t* label = labels.values.data();
  for (size_t i = 0; i < labels.values.size(); ++i)
    if (label[i] >= 10)
      throw DataError(labels_path + ": label " + std::to_string(label[i]) + " at index " +
                      std::to_string(i) + ", expected 0..9");
  count_ = images.dims[0];
  rows_ = images.dims[1];
  cols_ = images.dims[2];
  pixels_ = std::move(images.values);
  labels_.assign(label, label + labels.values.size());
}

int32_t MnistIdx::get(int64_t index, uint8_t* pixels) const {
  size_t n = size_t(rows_ * cols_);
  std::memcpy(pixels, pixels_.data() + size_t(index) * n, n);
  return labels_[size_t(index)];
}

void MnistIdx::prefetch(int64_t index) const {
  const size_t n = size_t(rows_ * cols_);
  for (size_t at = 0; at < n; at += 64) __builtin_prefetch(pixels_.data() + size_t(index) * n + at);
}

std::string MnistIdx::describe() const {
  return name_ + " (" + images_path_ + "): " + std::to_string(count_) + " images " +
         std::to_string(rows_) + "x" + std::to_string(cols_);
}

}  // namespace nnlab::data
