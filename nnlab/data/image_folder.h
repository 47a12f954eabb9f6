// ImageFolder as torchvision's: root/<class>/<image>, classes sorted by name (their index is
// the label), files with an image extension (.png .jpg .jpeg .bmp, any case) in sorted order;
// other files are ignored. Every image is decoded when its sample is asked for (in the
// DataLoader's workers), converted to `channels` and resized to size x size.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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
  int64_t class_size(int32_t label) const;  // images of one class
  const std::string& path(int64_t index) const { return files_[size_t(index)].first; }

  // Splits every class (stratified) into a training and a validation part: the images of a
  // class ranked by a hash of their file name keyed by `seed`, the first round(fraction * n)
  // go to validation. The split is a function of the file names and the seed alone: the same
  // on every backend, worker count and run, whatever order the directory lists its files in,
  // and an image added later moves at most the one image at its class's boundary. Throws
  // DataError naming the class when one would leave either part empty.
  std::pair<ImageFolder, ImageFolder> split(double validation_fraction, uint64_t seed) const;

 private:
  std::string root_;
  std::string part_;  // "" for the whole folder, or which part of a split this is
  ImageFolderOptions options_;
  std::vector<std::string> class_names_;
  std::vector<std::pair<std::string, int32_t>> files_;  // path, label
  int64_t skipped_ = 0;
};

// The share of each class held out for validation when a folder has no split of its own: 20%,
// the 80/20 split torchvision users commonly make with random_split(dataset, [0.8, 0.2]).
inline constexpr double kDefaultValidationFraction = 0.2;
// The key of that split's hash: fixed rather than the run's --seed, so that every run, seed
// and backend is measured on the same validation images (and no image trains one run and
// validates the next).
inline constexpr uint64_t kFolderSplitSeed = 0;

struct FolderSplits {
  std::shared_ptr<ImageFolder> train, validation;
  std::string layout;  // how the parts were found or made, with their sizes, for the run's log
};

// An image folder in either layout:
//  - already split, as torchvision's ImageNet folders: root/train/<class>/<image> beside
//    root/val/<class>/<image> (or root/test/...; val is preferred when both exist), the same
//    classes on both sides;
//  - one folder per class, root/<class>/<image> (a Kaggle download, the ResNet-18 notebook's
//    sneakers_dataset), split here per class by ImageFolder::split with `validation_fraction`
//    (unset: kDefaultValidationFraction) and kFolderSplitSeed.
// Throws DataError for a root that mixes the two (train/ beside class folders), a half split
// (train/ without val/ or test/, or the reverse), classes that differ between the parts, and
// whatever ImageFolder refuses; std::invalid_argument when a fraction is given for a folder
// that is split already.
FolderSplits open_image_folder(const std::string& root, const ImageFolderOptions& options,
                               std::optional<double> validation_fraction);

}  // namespace nnlab::data
