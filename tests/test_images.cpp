// Data: CIFAR-10's binary files (small ones generated in the exact format), image folders
// (PNG, BMP, JPEG written here), and the DataLoader's transforms.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "nnlab/data/cifar10.h"
#include "nnlab/data/image.h"
#include "nnlab/data/image_folder.h"
#include "nnlab/data/loader.h"
#include "tests/data_helpers.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

using namespace nnlab;
using namespace nnlab::data;
using nnlab::testing::all_batches;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  explicit TempDir(const std::string& name)
      : path((fs::temp_directory_path() / ("nnlab_" + name + "_" + std::to_string(::getpid())))
                 .string()) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

// `records` CIFAR records whose label is i % 10 and whose pixels are (i + p) % 256.
void write_cifar(const std::string& path, int records, int bad_label_at = -1) {
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < records; ++i) {
    out.put(char(i == bad_label_at ? 10 : i % 10));
    for (int p = 0; p < 3072; ++p) out.put(char((i + p) % 256));
  }
}

void write_png(const std::string& path, int w, int h, int channels, uint8_t value) {
  std::vector<uint8_t> px(size_t(w * h * channels), value);
  REQUIRE(stbi_write_png(path.c_str(), w, h, channels, px.data(), w * channels));
}
}  // namespace

TEST_CASE("CIFAR-10: binary batches load, and damaged ones name the file") {
  TempDir dir("cifar");
  for (int b = 1; b <= 5; ++b)
    write_cifar(dir.path + "/data_batch_" + std::to_string(b) + ".bin", 4);
  write_cifar(dir.path + "/test_batch.bin", 3);
  Cifar10 train(dir.path, Split::Train), test(dir.path, Split::Test);
  CHECK(train.size() == 20);
  CHECK(test.size() == 3);
  std::vector<uint8_t> px(3072);
  CHECK(train.get(6, px.data()) == 2);  // record 2 of data_batch_2
  CHECK(px[0] == 2);
  CHECK(px[1024] == uint8_t((2 + 1024) % 256));  // green plane starts at 1024
  write_cifar(dir.path + "/test_batch.bin", 3, 1);
  CHECK_THROWS_WITH_AS(Cifar10(dir.path, Split::Test),
                       doctest::Contains("test_batch.bin: label 10 in record 1"), DataError);
  { std::ofstream(dir.path + "/test_batch.bin", std::ios::binary) << "short"; }
  CHECK_THROWS_WITH_AS(
      Cifar10(dir.path, Split::Test),
      doctest::Contains("test_batch.bin: 5 bytes, expected a whole number of 3073-byte records"),
      DataError);
  fs::remove(dir.path + "/data_batch_3.bin");
  CHECK_THROWS_WITH_AS(Cifar10(dir.path, Split::Train),
                       doctest::Contains("data_batch_3.bin: no such file"), DataError);
}

TEST_CASE("CIFAR-10: the real files, where scripts/fetch_cifar10 has put them") {
  std::string dir = std::string(getenv("HOME") ? getenv("HOME") : ".") + "/.cache/nnlab/cifar10";
  if (const char* env = getenv("NNLAB_DATA")) dir = std::string(env) + "/cifar10";
  if (!fs::exists(dir + "/test_batch.bin")) {
    MESSAGE("skipping: no CIFAR-10 in " << dir << " (run scripts/fetch_cifar10)");
    return;
  }
  Cifar10 test(dir, Split::Test);
  CHECK(test.size() == 10000);
  std::vector<uint8_t> px(3072);
  CHECK(test.get(0, px.data()) == 3);  // cat, CIFAR-10's first test image
}

TEST_CASE("ImageFolder: sorted classes, any format, resizing and channel conversion") {
  TempDir dir("folder");
  fs::create_directories(dir.path + "/zebra");
  fs::create_directories(dir.path + "/ant");
  write_png(dir.path + "/zebra/b.png", 8, 6, 3, 200);
  write_png(dir.path + "/zebra/a.png", 4, 4, 1, 50);
  std::vector<uint8_t> rgb(16 * 16 * 3, 90);
  REQUIRE(stbi_write_bmp((dir.path + "/ant/x.BMP").c_str(), 16, 16, 3, rgb.data()));
  REQUIRE(stbi_write_jpg((dir.path + "/ant/y.jpg").c_str(), 16, 16, 3, rgb.data(), 95));
  { std::ofstream(dir.path + "/ant/notes.txt") << "ignored: not an image extension"; }
  ImageFolder folder(dir.path, {5, 3, false});
  CHECK(folder.class_names() == std::vector<std::string>{"ant", "zebra"});
  CHECK(folder.size() == 4);
  CHECK(folder.sample_shape() == Shape{3, 5, 5});
  std::vector<uint8_t> px(75);
  CHECK(folder.get(0, px.data()) == 0);  // ant/x.BMP
  CHECK(px[0] == 90);
  CHECK(folder.get(2, px.data()) == 1);  // zebra/a.png: grey replicated to RGB
  CHECK((px[0] == 50 && px[25] == 50 && px[50] == 50));
  ImageFolder grey(dir.path, {4, 1, false});
  std::vector<uint8_t> g(16);
  grey.get(3, g.data());  // zebra/b.png, RGB 200 -> luma 200
  CHECK(g[0] == 200);
}

TEST_CASE("ImageFolder: bad folders and unreadable images are reported by path") {
  TempDir dir("badfolder");
  CHECK_THROWS_WITH_AS(ImageFolder(dir.path + "/missing", {}),
                       doctest::Contains("missing: no such directory"), DataError);
  CHECK_THROWS_WITH_AS(ImageFolder(dir.path, {}), doctest::Contains("no class directories"),
                       DataError);
  fs::create_directories(dir.path + "/cats");
  fs::create_directories(dir.path + "/dogs");
  write_png(dir.path + "/cats/1.png", 4, 4, 3, 1);
  CHECK_THROWS_WITH_AS(ImageFolder(dir.path, {}),
                       doctest::Contains("class 'dogs' has no readable image"), DataError);
  write_png(dir.path + "/dogs/1.png", 4, 4, 3, 1);
  { std::ofstream(dir.path + "/dogs/2.png") << "not really a png"; }
  CHECK_THROWS_WITH_AS(ImageFolder(dir.path, {}),
                       doctest::Contains("dogs/2.png: not a readable PNG, JPEG or BMP"), DataError);
  // A header claiming 10000 x 10000 pixels (300 MB) is refused before anything is allocated.
  write_png(dir.path + "/huge.png", 4, 4, 3, 1);
  {
    std::fstream f(dir.path + "/huge.png", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16);  // IHDR: width then height, big-endian, after the 8-byte signature and chunk head
    const char dims[8] = {0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10};
    f.write(dims, 8);
  }
  CHECK_THROWS_WITH_AS(decode_image(dir.path + "/huge.png"),
                       doctest::Contains("huge.png: image is 10000x10000 pixels, more than the "
                                         "67108864-pixel limit"),
                       DataError);
  // A JPEG whose Huffman table declares more than 256 codes (stb_image v2.27 would write past
  // its table; fuzz/fuzz_image found it) is refused; the same file unpatched decodes.
  std::vector<uint8_t> px(64, 200);
  REQUIRE(stbi_write_jpg((dir.path + "/ok.jpg").c_str(), 8, 8, 1, px.data(), 90));
  CHECK(decode_image(dir.path + "/ok.jpg").width == 8);
  std::string jpeg;
  {
    std::ifstream in(dir.path + "/ok.jpg", std::ios::binary);
    jpeg.assign(std::istreambuf_iterator<char>(in), {});
  }
  size_t dht = jpeg.find("\xFF\xC4");
  REQUIRE(dht != std::string::npos);
  jpeg[dht + 5] = jpeg[dht + 6] = char(0xFF);  // the first two of the 16 code-length counts
  { std::ofstream(dir.path + "/bad.jpg", std::ios::binary) << jpeg; }
  CHECK_THROWS_WITH_AS(decode_image(dir.path + "/bad.jpg"),
                       doctest::Contains("bad.jpg: corrupt JPEG: a Huffman table declares"), DataError);
  ImageFolder skipping(dir.path, {4, 3, true});
  CHECK(skipping.size() == 2);
  CHECK(skipping.skipped() == 1);
  CHECK(skipping.describe().find("1 unreadable files skipped") != std::string::npos);
}

namespace {
struct Gradient : Dataset {  // one 1x4x4 sample: pixel (y, x) = 10 * y + x + 1
  int64_t size() const override { return 8; }
  Shape sample_shape() const override { return Shape{1, 4, 4}; }
  int64_t classes() const override { return 2; }
  int32_t get(int64_t i, uint8_t* px) const override {
    for (int p = 0; p < 16; ++p) px[p] = uint8_t(10 * (p / 4) + p % 4 + 1);
    return int32_t(i % 2);
  }
  std::string describe() const override { return "gradient"; }
};

}  // namespace

TEST_CASE(
    "transforms: padding, grey to RGB, random crop and flip, identical for any worker count") {
  auto data = std::make_shared<Gradient>();
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = false;
  o.normalize = {{0.0f}, {1.0f / 255.0f}};  // values stay in pixel units
  o.transforms.pad = 2;
  o.transforms.channels = 3;
  DataLoader padded(data, o);
  CHECK(padded.sample_shape() == Shape{3, 8, 8});
  Batch b = all_batches(padded, 0)[0];
  CHECK(b.images[0] == 0.0f);                        // padding
  CHECK(b.images[size_t(2 * 8 + 2)] == 1.0f);        // pixel (0, 0) moved to (2, 2)
  CHECK(b.images[size_t(64 + 5 * 8 + 5)] == 34.0f);  // green channel replicates grey
  o.transforms = {};
  o.transforms.crop_padding = 1;
  o.transforms.random_flip = true;
  DataLoader augmented(data, o);
  auto first = all_batches(augmented, 0);
  bool some_flip_or_shift = false;
  for (int64_t i = 0; i < 8; ++i) {
    const float* img = first[0].images.data() + i * 16;
    some_flip_or_shift = some_flip_or_shift || img[5] != 12.0f;
    for (int p = 0; p < 16; ++p) CHECK((img[p] == 0.0f || (img[p] >= 1 && img[p] <= 34)));
  }
  CHECK(some_flip_or_shift);
  CHECK(all_batches(augmented, 1)[0].images != first[0].images);  // another epoch, other draws
  o.workers = 3;
  o.batch_size = 3;
  DataLoader parallel(data, o);
  o.workers = 0;
  DataLoader serial(data, o);
  auto a = all_batches(parallel, 4), s = all_batches(serial, 4);
  REQUIRE(a.size() == s.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].images == s[i].images);
  o.transforms = {};
  o.transforms.channels = 2;
  CHECK_THROWS_WITH_AS(DataLoader(data, o), doctest::Contains("cannot turn 1 channels into 2"),
                       std::invalid_argument);
}

TEST_CASE(
    "images: a top-down BMP (negative height) loads upright; stb_image's reason is passed on") {
  TempDir dir("bmp");
  // 3 x 2 grey pixels, rows 10 20 30 / 40 50 60, written bottom-up as BMPs usually are.
  std::vector<uint8_t> px = {10, 20, 30, 40, 50, 60};
  std::string bottom_up = dir.path + "/bottom_up.bmp", top_down = dir.path + "/top_down.bmp";
  REQUIRE(stbi_write_bmp(bottom_up.c_str(), 3, 2, 1, px.data()));
  std::string bmp;
  {
    std::ifstream in(bottom_up, std::ios::binary);
    bmp.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The same image top-down: height -2 in the header (offset 22) and the pixel rows swapped.
  uint32_t data_at = uint8_t(bmp[10]) | uint32_t(uint8_t(bmp[11])) << 8;
  size_t row = (bmp.size() - data_at) / 2;
  std::string flipped =
      bmp.substr(0, data_at) + bmp.substr(data_at + row, row) + bmp.substr(data_at, row);
  int32_t minus_two = -2;
  for (int i = 0; i < 4; ++i) flipped[size_t(22 + i)] = char(uint32_t(minus_two) >> (8 * i));
  { std::ofstream(top_down, std::ios::binary) << flipped; }
  Image a = decode_image(bottom_up), b = decode_image(top_down);
  CHECK(read_image_header(top_down).height == 2);
  CHECK((b.width == 3 && b.height == 2));
  CHECK(b.pixels == a.pixels);
  CHECK(a.pixels[0] == 10);  // the first row is the top row
  // A PNG whose width exceeds stb_image's dimension limit: its own reason, not "unknown type".
  std::string png = dir.path + "/wide.png";
  write_png(png, 4, 4, 3, 1);
  {
    std::fstream f(png, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16);
    const char dims[8] = {0x01, 0, 0, 0x01, 0, 0, 0, 1};  // 16777217 x 1
    f.write(dims, 8);
  }
  CHECK_THROWS_WITH_AS(read_image_header(png),
                       doctest::Contains((png + ": not a readable PNG image (too large)").c_str()),
                       DataError);
  { std::ofstream(dir.path + "/text.png") << "hello"; }
  CHECK_THROWS_WITH_AS(
      read_image_header(dir.path + "/text.png"),
      doctest::Contains("text.png: not a readable PNG, JPEG or BMP image (unknown image type)"),
      DataError);
}

namespace {
// A folder of `per_class` tiny PNGs in each named class directory.
void write_classes(const std::string& root, const std::vector<std::string>& classes,
                   int per_class) {
  for (const auto& name : classes) {
    fs::create_directories(root + "/" + name);
    for (int i = 0; i < per_class; ++i)
      write_png(root + "/" + name + "/img " + std::to_string(i) + ".png", 4, 4, 3, uint8_t(i));
  }
}

std::vector<std::string> paths_of(const ImageFolder& f) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < f.size(); ++i) out.push_back(f.path(i));
  return out;
}
}  // namespace

TEST_CASE("image folders: one folder per class is split per class, the same way every time") {
  TempDir dir("split");
  // The ResNet-18 notebook's layout: class names with spaces, here also non-ASCII (UTF-8).
  std::vector<std::string> classes = {"Nike Air Force 1", "adidas Stan Smith", "Ünïcödé 靴"};
  write_classes(dir.path, classes, 10);
  write_classes(dir.path, {"Vans Old Skool"}, 7);
  ImageFolderOptions o{8, 3, false};
  FolderSplits splits = open_image_folder(dir.path, o, std::nullopt);  // the default, 0.2
  const ImageFolder &train = *splits.train, &val = *splits.validation;
  CHECK(train.class_names() == val.class_names());
  CHECK(train.class_names().size() == 4);  // sorted by bytes, as torchvision sorts names
  CHECK(train.class_names()[0] == "Nike Air Force 1");
  CHECK(train.class_names()[3] == classes[2]);
  CHECK(val.size() == 2 + 2 + 2 + 1);  // round(0.2 * 10) = 2 per class of 10, round(1.4) = 1 of 7
  CHECK(train.size() == 8 + 8 + 8 + 6);
  for (int32_t label = 0; label < 4; ++label)
    CHECK(train.class_size(label) + val.class_size(label) == (label == 1 ? 7 : 10));
  std::vector<std::string> t = paths_of(train), v = paths_of(val), both = t;
  both.insert(both.end(), v.begin(), v.end());
  std::sort(both.begin(), both.end());
  CHECK(std::adjacent_find(both.begin(), both.end()) == both.end());  // disjoint
  CHECK(both.size() == 37);                                           // and complete
  CHECK(splits.layout.find("30 training and 7 validation images, 4 classes") != std::string::npos);
  CHECK(train.describe().find("training part: 80% of each class") != std::string::npos);
  // Labels follow the class order in both parts.
  std::vector<uint8_t> px(3 * 8 * 8);
  CHECK(val.get(0, px.data()) == 0);
  CHECK(val.get(val.size() - 1, px.data()) == 3);
  // The same split on every opening (it depends on file names and a fixed seed only), and a
  // different one under another seed.
  FolderSplits again = open_image_folder(dir.path, o, 0.2);
  CHECK(paths_of(*again.validation) == v);
  ImageFolder whole(dir.path, o);
  CHECK(paths_of(whole.split(0.2, kFolderSplitSeed).second) == v);
  CHECK(paths_of(whole.split(0.2, 12345).second) != v);
  // An image added later moves at most the one image at its class's boundary.
  write_png(dir.path + "/Nike Air Force 1/img 10.png", 4, 4, 3, 10);  // 11 images: still 2 held out
  std::vector<std::string> after =
      paths_of(*open_image_folder(dir.path, o, std::nullopt).validation);
  std::vector<std::string> kept, before = v;
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  std::set_intersection(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(kept));
  CHECK(kept.size() >= v.size() - 1);
  // --val-fraction 0.5 holds out half of each class.
  FolderSplits half = open_image_folder(dir.path, o, 0.5);
  CHECK(half.validation->class_size(0) == 6);  // round(5.5) = 6 of 11
  CHECK(half.validation->class_size(1) == 4);  // round(3.5) = 4 of 7
}

TEST_CASE(
    "image folders: ambiguous or wrong layouts and unsplittable classes are refused clearly") {
  TempDir dir("layouts");
  ImageFolderOptions o{8, 3, false};
  std::string root = dir.path;
  // Split layout: train + val, the same classes.
  write_classes(root + "/split/train", {"cats", "dogs"}, 3);
  write_classes(root + "/split/val", {"cats", "dogs"}, 2);
  FolderSplits split = open_image_folder(root + "/split", o, std::nullopt);
  CHECK(split.train->size() == 6);
  CHECK(split.validation->size() == 4);
  CHECK(split.layout.find("split by its folders, train and val") != std::string::npos);
  CHECK_THROWS_WITH_AS(
      open_image_folder(root + "/split", o, 0.3),
      doctest::Contains(
          ("--val-fraction: " + root + "/split is split already (train and val folders)").c_str()),
      std::invalid_argument);
  // train/ beside class folders: which layout is meant?
  write_classes(root + "/split", {"Nike Air Force 1"}, 2);
  CHECK_THROWS_WITH_AS(
      open_image_folder(root + "/split", o, std::nullopt),
      doctest::Contains(
          (root + "/split: ambiguous layout: train, val beside other folders (Nike Air Force 1)")
              .c_str()),
      DataError);
  // Half a split.
  write_classes(root + "/only_train/train", {"cats"}, 2);
  CHECK_THROWS_WITH_AS(
      open_image_folder(root + "/only_train", o, std::nullopt),
      doctest::Contains(
          (root + "/only_train: has a train folder but neither val nor test").c_str()),
      DataError);
  write_classes(root + "/only_test/test", {"cats"}, 2);
  CHECK_THROWS_WITH_AS(
      open_image_folder(root + "/only_test", o, std::nullopt),
      doctest::Contains((root + "/only_test: has test but no train folder").c_str()), DataError);
  // Different classes on the two sides would mislabel every image after the first difference.
  write_classes(root + "/mismatch/train", {"cats", "dogs"}, 2);
  write_classes(root + "/mismatch/test", {"cats", "wolves"}, 2);
  CHECK_THROWS_WITH_AS(open_image_folder(root + "/mismatch", o, std::nullopt),
                       doctest::Contains("train has the classes cats, dogs, test has cats, wolves"),
                       DataError);
  // One folder per class: an empty class, a class too small to split, a fraction outside (0, 1).
  write_classes(root + "/flat", {"big", "small"}, 5);
  fs::create_directories(root + "/flat/empty");
  CHECK_THROWS_WITH_AS(open_image_folder(root + "/flat", o, std::nullopt),
                       doctest::Contains("class 'empty' has no readable image"), DataError);
  fs::remove(root + "/flat/empty");
  for (int i = 2; i < 5; ++i) fs::remove(root + "/flat/small/img " + std::to_string(i) + ".png");
  CHECK_THROWS_WITH_AS(
      open_image_folder(root + "/flat", o, std::nullopt),
      doctest::Contains((root + "/flat/small: class 'small' has 2 images, too few to split: "
                                "--val-fraction 0.2 would leave no image for validation "
                                "(every class needs at least 3 images at this fraction)")
                            .c_str()),
      DataError);
  CHECK(open_image_folder(root + "/flat", o, 0.5).validation->size() ==
        3 + 1);  // round(2.5), round(1)
  CHECK_THROWS_WITH_AS(
      open_image_folder(root + "/flat", o, 0.9),
      doctest::Contains("class 'big' has 5 images, too few to split: --val-fraction 0.9 "
                        "would leave no image for training (every class needs at least 6"),
      DataError);
  for (double bad : {0.0, 1.0, -0.5, 1.5})
    CHECK_THROWS_AS(ImageFolder(root + "/flat", o).split(bad, 0), std::invalid_argument);
  // No class folders at all: images directly in the root.
  fs::create_directories(root + "/loose");
  write_png(root + "/loose/a.png", 4, 4, 3, 1);
  CHECK_THROWS_WITH_AS(open_image_folder(root + "/loose", o, std::nullopt),
                       doctest::Contains("no class directories"), DataError);
}
