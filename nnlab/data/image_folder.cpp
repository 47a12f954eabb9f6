#include "nnlab/data/image_folder.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "nnlab/data/image.h"

namespace nnlab::data {
namespace {
bool has_image_extension(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}
}  // namespace

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions options) : root_(root), options_(options) {
  namespace fs = std::filesystem;
  if (options_.channels != 1 && options_.channels != 3)
    throw std::invalid_argument("ImageFolder: channels must be 1 or 3, got " + std::to_string(options_.channels));
  if (options_.size < 1) throw std::invalid_argument("ImageFolder: size must be >= 1");
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw DataError(root + ": no such directory (an image folder root/<class>/<image>)");
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory()) class_names_.push_back(entry.path().filename().string());
  if (ec) throw DataError(root + ": cannot list (" + ec.message() + ")");
  std::sort(class_names_.begin(), class_names_.end());
  if (class_names_.empty()) throw DataError(root + ": no class directories, expected root/<class>/<image>");
  for (size_t label = 0; label < class_names_.size(); ++label) {
    fs::path dir = fs::path(root) / class_names_[label];
    std::vector<std::string> paths;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_regular_file() && has_image_extension(entry.path())) paths.push_back(entry.path().string());
    if (ec) throw DataError(dir.string() + ": cannot list (" + ec.message() + ")");
    std::sort(paths.begin(), paths.end());
    int64_t readable = 0;
    for (const std::string& path : paths) {
      try {
        read_image_header(path);
      } catch (const DataError&) {
        if (!options_.skip_unreadable) throw;
        ++skipped_;
        continue;
      }
      files_.emplace_back(path, int32_t(label));
      ++readable;
    }
    if (readable == 0) throw DataError(dir.string() + ": class '" + class_names_[label] + "' has no readable image");
  }
}

int32_t ImageFolder::get(int64_t index, uint8_t* pixels) const {
  const auto& [path, label] = files_[size_t(index)];
  std::vector<uint8_t> chw = to_chw(decode_image(path), options_.channels, options_.size, options_.size);
  std::memcpy(pixels, chw.data(), chw.size());
  return label;
}

std::string ImageFolder::describe() const {
  std::string s = "ImageFolder (" + root_ + "): " + std::to_string(size()) + " images, " +
                  std::to_string(classes()) + " classes, resized to " + std::to_string(options_.channels) + "x" +
                  std::to_string(options_.size) + "x" + std::to_string(options_.size);
  return skipped_ ? s + ", " + std::to_string(skipped_) + " unreadable files skipped" : s;
}

}  // namespace nnlab::data
