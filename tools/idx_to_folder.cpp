// Writes chosen classes of an MNIST-family dataset as an image folder, in torchvision's
// layout: OUT/train/<class>/<index>.png and OUT/val/<class>/<index>.png. Real images for
// ImageFolder runs (e.g. Fashion-MNIST's sandal, sneaker and ankle boot: 5,7,9).
//   usage: idx_to_folder IDX_DIR OUT CLASSES PER_CLASS_TRAIN PER_CLASS_VAL [png|jpg|bmp]
//          (CLASSES comma-separated labels; names are "class_<label>"; PNG by default)
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "nnlab/data/idx.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

using namespace nnlab::data;

int main(int argc, char** argv) {
  std::string format = argc == 7 ? argv[6] : "png";
  if ((argc != 6 && argc != 7) || (format != "png" && format != "jpg" && format != "bmp")) {
    std::cerr << "usage: idx_to_folder IDX_DIR OUT CLASSES PER_CLASS_TRAIN PER_CLASS_VAL [png|jpg|bmp]\n";
    return 2;
  }
  try {
    std::set<int> classes;
    std::stringstream list(argv[3]);
    for (std::string item; std::getline(list, item, ',');) classes.insert(std::stoi(item));
    long per_class[2] = {std::stol(argv[4]), std::stol(argv[5])};
    const char* split_names[2] = {"train", "val"};
    for (int split = 0; split < 2; ++split) {
      MnistIdx data(argv[1], split == 0 ? Split::Train : Split::Test);
      std::vector<uint8_t> px(784);
      std::map<int, long> written;
      for (int64_t i = 0; i < data.size(); ++i) {
        int label = data.get(i, px.data());
        if (!classes.count(label) || written[label] >= per_class[split]) continue;
        std::filesystem::path dir = std::filesystem::path(argv[2]) / split_names[split] / ("class_" + std::to_string(label));
        std::filesystem::create_directories(dir);
        std::string path = (dir / (std::to_string(i) + "." + format)).string();
        int ok = format == "png"   ? stbi_write_png(path.c_str(), 28, 28, 1, px.data(), 28)
                 : format == "jpg" ? stbi_write_jpg(path.c_str(), 28, 28, 1, px.data(), 90)
                                   : stbi_write_bmp(path.c_str(), 28, 28, 1, px.data());
        if (!ok) throw DataError(path + ": cannot write");
        ++written[label];
      }
      for (int c : classes) std::cout << split_names[split] << "/class_" << c << ": " << written[c] << " images\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "idx_to_folder: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
