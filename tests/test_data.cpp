// Data: the IDX loader on real MNIST and Fashion-MNIST, on both file spellings and gzip, on
// corrupted copies that must fail with a message naming the file; the DataLoader's order,
// batching and worker-count independence.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "nnlab/data/idx.h"
#include "nnlab/data/loader.h"
#include "nnlab/data/paths.h"
#include "tests/data_helpers.h"

using namespace nnlab;
using namespace nnlab::data;
using nnlab::testing::all_batches;
namespace fs = std::filesystem;

namespace {
std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
// The file's bytes, decompressed when it is gzip: the data directory may hold either form.
std::vector<char> read_decompressed(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  REQUIRE_MESSAGE(f != nullptr, "cannot open " << path);
  std::vector<char> bytes;
  char chunk[1 << 16];
  for (int n; (n = gzread(f, chunk, sizeof chunk)) > 0;) bytes.insert(bytes.end(), chunk, chunk + n);
  gzclose(f);
  return bytes;
}
void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
void write_gzip(const std::string& path, const std::vector<char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

// A scratch directory holding a copy of real MNIST's test split, removed at scope exit.
struct ScratchCopy {
  ScratchCopy() {
    dir = (fs::temp_directory_path() / ("nnlab_data_test_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string mnist = dataset_dir("mnist");
    images = read_decompressed(find_idx_file(mnist, "t10k-images", 3));
    labels = read_decompressed(find_idx_file(mnist, "t10k-labels", 1));
  }
  ~ScratchCopy() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return dir + "/" + name; }
  void put(const std::vector<char>& img, const std::vector<char>& lab) const {
    write_bytes(path("t10k-images-idx3-ubyte"), img);
    write_bytes(path("t10k-labels-idx1-ubyte"), lab);
  }
  std::string dir;
  std::vector<char> images, labels;
};

void set_be32(std::vector<char>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + size_t(i)] = char(v >> (24 - 8 * i));
}
}  // namespace

TEST_CASE("MNIST: the real files load with the published sizes and first labels") {
  std::string dir = dataset_dir("mnist");
  MnistIdx train(dir, Split::Train), test(dir, Split::Test);
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.sample_shape() == Shape{1, 28, 28});
  std::vector<uint8_t> px(784);
  CHECK(train.get(0, px.data()) == 5);  // the well-known first digits: 5, 0, 4 and 7, 2, 1
  CHECK(train.get(1, px.data()) == 0);
  CHECK(train.get(2, px.data()) == 4);
  CHECK(test.get(0, px.data()) == 7);
  CHECK(test.get(1, px.data()) == 2);
  std::vector<int64_t> per_class(10, 0);
  for (int64_t i = 0; i < train.size(); ++i) per_class[size_t(train.get(i, px.data()))]++;
  for (int64_t n : per_class) CHECK((n > 5000 && n < 7000));
}

TEST_CASE("Fashion-MNIST: Debian's gzip files load through the same loader") {
  std::string dir = dataset_dir("fashion-mnist");
  MnistIdx test(dir, Split::Test, "Fashion-MNIST");
  CHECK(test.size() == 10000);
  std::vector<uint8_t> px(784);
  CHECK(test.get(0, px.data()) == 9);  // ankle boot, the first test image of Fashion-MNIST
}

TEST_CASE("IDX: dot spelling and gzip give identical data") {
  ScratchCopy s;
  write_gzip(s.path("t10k-images.idx3-ubyte.gz"), s.images);
  write_bytes(s.path("t10k-labels.idx1-ubyte"), s.labels);
  MnistIdx from_copy(s.dir, Split::Test), original(dataset_dir("mnist"), Split::Test);
  std::vector<uint8_t> a(784), b(784);
  for (int64_t i : {0, 1234, 9999}) {
    CHECK(from_copy.get(i, a.data()) == original.get(i, b.data()));
    CHECK(a == b);
  }
}

TEST_CASE("IDX: corrupted files fail with the file, the expectation and the finding") {
  ScratchCopy s;
  std::string img = s.path("t10k-images-idx3-ubyte"), lab = s.path("t10k-labels-idx1-ubyte");
  auto expect_error = [&](const std::string& fragment) {
    CHECK_THROWS_WITH_AS(MnistIdx(s.dir, Split::Test), doctest::Contains(fragment.c_str()),
                         DataError);
  };
  SUBCASE("truncated pixel data") {
    s.put({s.images.begin(), s.images.end() - 100}, s.labels);
    expect_error(img +
                 ": header dimensions 10000 x 28 x 28 promise 7840000 bytes of data, the file "
                 "holds 7839900");
  }
  SUBCASE("truncated inside the header") {
    s.put({s.images.begin(), s.images.begin() + 10}, s.labels);
    expect_error(img + ": truncated: 10 bytes, expected at least a 16-byte IDX header");
  }
  SUBCASE("zero-length file") {
    s.put({}, s.labels);
    expect_error(img + ": truncated: 0 bytes");
  }
  SUBCASE("wrong magic") {
    auto bad = s.images;
    set_be32(bad, 0, 0x00000801);
    s.put(bad, s.labels);
    expect_error(img +
                 ": wrong magic 0x00000801, expected 0x00000803 (unsigned bytes, 3 dimensions)");
  }
  SUBCASE("labels file given where images are expected") {
    s.put(s.labels, s.labels);
    expect_error("wrong magic 0x00000801, expected 0x00000803");
  }
  SUBCASE("dimensions larger than the file") {
    auto bad = s.images;
    set_be32(bad, 4, 0xFFFFFFFF);
    s.put(bad, s.labels);
    expect_error(img +
                 ": header dimensions 4294967295 ... exceed the 7840000 bytes of data in the file");
  }
  SUBCASE("dimensions whose product overflows 64 bits") {
    auto bad = s.images;
    set_be32(bad, 4, 0xFFFFFFFF);
    set_be32(bad, 8, 0xFFFFFFFF);
    set_be32(bad, 12, 0xFFFFFFFF);
    s.put(bad, s.labels);
    expect_error("exceed the 7840000 bytes");
  }
  SUBCASE("label count differs from image count") {
    std::vector<char> fewer(s.labels.begin(), s.labels.end() - 1);
    set_be32(fewer, 4, 9999);
    s.put(s.images, fewer);
    expect_error(lab + ": 9999 labels, but " + img + " holds 10000 images");
  }
  SUBCASE("a label out of range") {
    auto bad = s.labels;
    bad[8 + 17] = 12;
    s.put(s.images, bad);
    expect_error(lab + ": label 12 at index 17, expected 0..9");
  }
  SUBCASE("corrupt gzip") {
    write_gzip(s.path("t10k-images-idx3-ubyte.gz"), s.images);
    auto gz = read_bytes(s.path("t10k-images-idx3-ubyte.gz"));
    gz.resize(gz.size() / 2);
    write_bytes(s.path("t10k-images-idx3-ubyte.gz"), gz);
    write_bytes(lab, s.labels);
    expect_error(s.path("t10k-images-idx3-ubyte.gz") + ": corrupt or truncated gzip data");
  }
  SUBCASE("missing files list the names tried") {
    expect_error(
        s.dir +
        ": no t10k-images IDX file (tried t10k-images-idx3-ubyte, t10k-images-idx3-ubyte.gz, "
        "t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz)");
  }
}

namespace {
// A small dataset whose pixels encode the sample index, to check order and assembly.
struct Counting : Dataset {
  explicit Counting(int64_t n) : n(n) {}
  int64_t size() const override { return n; }
  Shape sample_shape() const override { return Shape{2, 1, 3}; }
  int64_t classes() const override { return 10; }
  int32_t get(int64_t i, uint8_t* px) const override {
    if (i == fail_at) throw DataError("sample " + std::to_string(i) + " is unreadable");
    px[0] = uint8_t(i % 256);  // the index, recoverable from the first two pixels
    px[1] = uint8_t(i / 256);
    for (int k = 2; k < 6; ++k) px[k] = uint8_t((i + k) % 256);
    return int32_t(i % 10);
  }
  std::string describe() const override { return "counting"; }
  int64_t n;
  int64_t fail_at = -1;
};

}  // namespace

TEST_CASE("DataLoader: identical batches for any worker count, seeded shuffles") {
  auto data = std::make_shared<Counting>(1003);
  LoaderOptions o;
  o.batch_size = 64;
  o.seed = 5;
  DataLoader serial(data, o);
  std::vector<Batch> want = all_batches(serial, 2);
  REQUIRE(want.size() == 16);  // 15 full batches and one of 43
  CHECK(want.back().shape == Shape{43, 2, 1, 3});
  for (int workers : {1, 2, 5}) {
    o.workers = workers;
    o.prefetch = 3;
    DataLoader parallel(data, o);
    std::vector<Batch> got = all_batches(parallel, 2);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].index == int64_t(i));
      CHECK(got[i].images == want[i].images);
      CHECK(got[i].labels == want[i].labels);
    }
    all_batches(parallel, 3);  // a loader runs several epochs
  }
  // Every sample appears once per epoch; another epoch has another order.
  std::vector<int> seen(1003, 0);
  for (const auto& b : want)
    for (int64_t i = 0; i < b.shape[0]; ++i)
      seen[size_t(std::lround(b.images[size_t(i * 6)] * 255) +
                  256 * std::lround(b.images[size_t(i * 6 + 1)] * 255))]++;
  CHECK(std::count(seen.begin(), seen.end(), 1) == 1003);
  CHECK(all_batches(serial, 3)[0].labels != want[0].labels);
  CHECK(shuffled_order(10, 1, 0) == shuffled_order(10, 1, 0));
  CHECK(shuffled_order(10, 1, 0) != shuffled_order(10, 2, 0));
}

TEST_CASE("DataLoader: drop_last, limit, no shuffle, normalisation") {
  auto data = std::make_shared<Counting>(100);
  LoaderOptions o;
  o.batch_size = 32;
  o.drop_last = true;
  o.shuffle = false;
  o.normalize = {{0.5f}, {0.25f}};
  DataLoader loader(data, o);
  auto batches = all_batches(loader, 0);
  CHECK(batches.size() == 3);
  CHECK(batches[1].labels[0] == 2);                                          // sample 32
  CHECK(batches[0].images[2] == doctest::Approx((2 / 255.0 - 0.5) / 0.25));  // pixel 2 of sample 0
  o.limit = 10;
  o.drop_last = false;
  DataLoader limited(data, o);
  CHECK(limited.batches_per_epoch() == 1);
  CHECK(all_batches(limited, 0)[0].shape[0] == 10);
  o.batch_size = 0;
  CHECK_THROWS_WITH_AS(DataLoader(data, o), doctest::Contains("batch size must be >= 1, got 0"),
                       std::invalid_argument);
}

TEST_CASE("DataLoader: a worker's error reaches the consumer") {
  auto data = std::make_shared<Counting>(300);
  data->fail_at = 200;
  LoaderOptions o;
  o.shuffle = false;
  o.workers = 2;
  DataLoader loader(data, o);
  loader.start_epoch(0);
  CHECK_THROWS_WITH_AS(
      [&] {
        while (loader.next()) {
        }
      }(),
      doctest::Contains("sample 200 is unreadable"), DataError);
  CHECK_THROWS_AS(DataLoader(data, o).next(), std::logic_error);  // next() before start_epoch()
}

namespace {
// The peak resident set of this process so far, in KiB.
long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}
}  // namespace

TEST_CASE("IDX: a gzip bomb is refused after its header, without inflating the rest") {
  ScratchCopy s;
  // 1 GiB of zeros in about 1 MB: a gzip member holding 1 MiB of zeros, repeated (zlib reads
  // concatenated members as one stream). The first member starts with a 16-byte header.
  std::vector<char> zeros(size_t(1) << 20, 0);
  auto bomb = [&](std::vector<char> header) {
    std::string path = s.path("bomb-idx3-ubyte.gz");
    write_gzip(path, zeros);
    std::vector<char> member = read_bytes(path);
    header.insert(header.end(), zeros.begin(), zeros.end());
    write_gzip(path, header);
    std::vector<char> file = read_bytes(path);
    for (int i = 1; i < 1024; ++i) file.insert(file.end(), member.begin(), member.end());
    write_bytes(path, file);
    return path;
  };
  long before = peak_rss_kib();
  std::vector<char> header(s.images.begin(), s.images.begin() + 16);
  std::string path = bomb(std::vector<char>(16, 0));  // wrong magic 0x00000000
  CHECK(fs::file_size(path) < 2000000);
  CHECK_THROWS_WITH_AS(
      read_idx(path, 3),
      doctest::Contains((path + ": wrong magic 0x00000000, expected 0x00000803").c_str()),
      DataError);
  set_be32(header, 4, 10);  // 10 images of 28 x 28: 7840 bytes promised, 1 GiB follows
  path = bomb(header);
  CHECK_THROWS_WITH_AS(
      read_idx(path, 3),
      doctest::Contains((path + ": header dimensions 10 x 28 x 28 promise 7840 bytes "
                                "of data, the file holds more")
                            .c_str()),
      DataError);
  set_be32(header, 4, 0x7FFFFFFF);  // more than any IDX file of this project
  path = bomb(header);
  CHECK_THROWS_WITH_AS(read_idx(path, 3),
                       doctest::Contains("header dimensions 2147483647 ... promise more than "
                                         "the 1 GiB limit"),
                       DataError);
  long grown_mib = (peak_rss_kib() - before) / 1024;
  MESSAGE("peak resident set grew by " << grown_mib << " MiB reading three 1 GiB gzip bombs");
  CHECK(grown_mib < 64);  // the building of the bombs included: a few MiB
}

TEST_CASE("DataLoader: a batch too large for host memory is named, with what to change") {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("skipping: AddressSanitizer aborts on an impossible allocation instead of failing it");
  return;
#endif
  struct Huge : Counting {  // 2^20 samples of 3 x 4096 x 4096: a single batch is 192 TiB of floats
    Huge() : Counting(int64_t(1) << 20) {}
    Shape sample_shape() const override { return Shape{3, 4096, 4096}; }
  };
  LoaderOptions o;
  o.batch_size = int64_t(1) << 20;
  o.shuffle = false;
  DataLoader loader(std::make_shared<Huge>(), o);
  loader.start_epoch(0);
  CHECK_THROWS_WITH_AS(
      loader.next(),
      "out of host memory allocating a batch of 1048576 images of 3x4096x4096 as "
      "float32: 211106232532992 bytes (196608.00 GiB); try a smaller --batch-size or "
      "--image-size",
      std::bad_alloc);
}
