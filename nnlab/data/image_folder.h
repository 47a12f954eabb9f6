// ImageFolder as torchvision's: root/<class>/<image>, classes sorted by name (their index is
// the label), files with an image extension (.png .jpg .jpeg .bmp, any case) in sorted order;
// other files are ignored. Every image is decoded when its sample is asked for (in the
// DataLoader's workers), converted to `channels` and resized to size x size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nnlab/data/dataset.h"

namespace nnlab::data {

struct ImageFolderOptions {
  int64_t size = 32;              // output height and width
  int64_t channels = 3;           // 1 (grey) or 3 (RGB)
  bool skip_unreadable = false;   // false: an unreadable image is an error naming it
};

class ImageFolder : public Dataset {
 public:
  // Lists and probes every image's header; throws DataError naming the path when the root is
  // missing, has no class directory, a class has no image, or (unless skipping) an image is
  // unreadable.
  ImageFolder(const std::string& root, ImageFolderOptions options);
  int64_t size() const override { return int64_t(files_.size()); }
  Shape sample_shape() const override { return Shape{options_.channels, options_.size, options_.size}; }
  int64_t classes() const override { return int64_t(class_names_.size()); }
  int32_t get(int64_t index, uint8_t* pixels) const override;
  std::string describe() const override;
  const std::vector<std::string>& class_names() const { return class_names_; }
  int64_t skipped() const { return skipped_; }

 private:
  std::string root_;
  ImageFolderOptions options_;
  std::vector<std::string> class_names_;
  std::vector<std::pair<std::string, int32_t>> files_;  // path, label
  int64_t skipped_ = 0;
};

}  // namespace nnlab::data
