#include "nnlab/data/image_folder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <tuple>

#include "nnlab/core/philox.h"
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
  std::string s = "ImageFolder (" + root_ + (part_.empty() ? "" : ", " + part_) +
                  "): " + std::to_string(size()) + " images, " + std::to_string(classes()) +
                  " classes, resized to " + std::to_string(options_.channels) + "x" +
                  std::to_string(options_.size) + "x" + std::to_string(options_.size);
  return skipped_ ? s + ", " + std::to_string(skipped_) + " unreadable files skipped" : s;
}

int64_t ImageFolder::class_size(int32_t label) const {
  return std::count_if(files_.begin(), files_.end(),
                       [label](const auto& f) { return f.second == label; });
}

namespace {
// How many of a class's n images go to validation.
int64_t validation_count(double fraction, int64_t n) {
  return std::llround(fraction * double(n));
}

// The fewest images a class needs for the fraction to leave one on each side.
int64_t smallest_splittable(double fraction) {
  auto fits = [fraction](int64_t n) {
    int64_t v = validation_count(fraction, n);
    return v >= 1 && n - v >= 1;
  };
  int64_t n = std::max<int64_t>(2, int64_t(std::ceil(0.5 / std::min(fraction, 1 - fraction))) - 1);
  while (!fits(n)) ++n;
  return n;
}

// A file name's rank key within its class: FNV-1a of its bytes, mixed with the seed by Philox.
uint64_t rank_key(const std::string& file_name, uint64_t seed) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : file_name) h = (h ^ c) * 1099511628211ull;
  philox::Uint4 r = philox::philox4x32_10(h, seed);
  return uint64_t(r.x) << 32 | r.y;
}

std::string format_fraction(double f) {
  std::ostringstream os;
  os << f;
  return os.str();
}
}  // namespace

std::pair<ImageFolder, ImageFolder> ImageFolder::split(double fraction, uint64_t seed) const {
  namespace fs = std::filesystem;
  if (!(fraction > 0 && fraction < 1))
    throw std::invalid_argument(
        "ImageFolder::split: the validation fraction must be in (0, 1), got " +
        format_fraction(fraction));
  ImageFolder train = *this, validation = *this;
  train.files_.clear();
  validation.files_.clear();
  int percent = int(std::lround(100 * fraction));
  train.part_ = "training part: " + std::to_string(100 - percent) + "% of each class";
  validation.part_ = "validation part: " + std::to_string(percent) + "% of each class";
  for (int32_t label = 0; label < int32_t(class_names_.size()); ++label) {
    std::vector<std::tuple<uint64_t, std::string, const std::pair<std::string, int32_t>*>> ranked;
    for (const auto& f : files_)
      if (f.second == label) {
        std::string name = fs::path(f.first).filename().string();
        ranked.emplace_back(rank_key(name, seed), name, &f);
      }
    int64_t n = int64_t(ranked.size()), held_out = validation_count(fraction, n);
    if (held_out < 1 || held_out >= n)
      throw DataError((fs::path(root_) / class_names_[size_t(label)]).string() + ": class '" +
                      class_names_[size_t(label)] + "' has " + std::to_string(n) + " image" +
                      (n == 1 ? "" : "s") + ", too few to split: --val-fraction " +
                      format_fraction(fraction) + " would leave " +
                      (held_out < 1 ? "no image for validation" : "no image for training") +
                      " (every class needs at least " +
                      std::to_string(smallest_splittable(fraction)) + " images at this fraction)");
    std::sort(ranked.begin(), ranked.end());
    for (int64_t i = 0; i < n; ++i)
      (i < held_out ? validation : train).files_.push_back(*std::get<2>(ranked[size_t(i)]));
  }
  // Each part keeps the folder's order (class, then path), as an unsplit folder lists them.
  for (ImageFolder* part : {&train, &validation})
    std::sort(part->files_.begin(), part->files_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.second, a.first) < std::tie(b.second, b.first);
    });
  return {std::move(train), std::move(validation)};
}

namespace {
std::string join(const std::vector<std::string>& names, size_t most = 5) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < most; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > most) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

std::string with_sizes(const ImageFolder& train, const ImageFolder& validation) {
  return std::to_string(train.size()) + " training and " + std::to_string(validation.size()) +
         " validation images, " + std::to_string(train.classes()) + " classes";
}
}  // namespace

FolderSplits open_image_folder(const std::string& root, const ImageFolderOptions& options,
                               std::optional<double> validation_fraction) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw DataError(
        root +
        ": no such directory (an image folder: root/<class>/<image>, or root/train/<class>/<image> "
        "and root/val/<class>/<image>)");
  std::set<std::string> split_dirs, other_dirs;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory()) continue;
    std::string name = entry.path().filename().string();
    (name == "train" || name == "val" || name == "test" ? split_dirs : other_dirs).insert(name);
  }
  if (ec) throw DataError(root + ": cannot list (" + ec.message() + ")");
  if (split_dirs.empty()) {  // one folder per class: split here
    double fraction = validation_fraction.value_or(kDefaultValidationFraction);
    ImageFolder whole(root, options);
    auto [train, validation] = whole.split(fraction, kFolderSplitSeed);
    FolderSplits out;
    out.layout = root + " has one folder per class, split per class (--val-fraction " +
                 format_fraction(fraction) + (validation_fraction ? "" : ", the default") +
                 "; a fixed split, the same for every run): " + with_sizes(train, validation);
    out.train = std::make_shared<ImageFolder>(std::move(train));
    out.validation = std::make_shared<ImageFolder>(std::move(validation));
    return out;
  }
  std::vector<std::string> split_names(split_dirs.begin(), split_dirs.end());
  if (!other_dirs.empty())
    throw DataError(
        root + ": ambiguous layout: " + join(split_names) + " beside other folders (" +
        join(std::vector<std::string>(other_dirs.begin(), other_dirs.end())) +
        "); expected either root/train/<class> with "
        "root/val/<class> (or root/test/<class>) and nothing else, or only root/<class> folders");
  std::string evaluation = split_dirs.count("val") ? "val" : split_dirs.count("test") ? "test" : "";
  if (!split_dirs.count("train"))
    throw DataError(root + ": has " + join(split_names) +
                    " but no train folder (expected root/train/<class> beside root/" +
                    *split_dirs.begin() + "/<class>)");
  if (evaluation.empty())
    throw DataError(
        root +
        ": has a train folder but neither val nor test (expected root/val/<class> or "
        "root/test/<class> beside it; or put the class folders directly in root to have them split "
        "with --val-fraction)");
  if (validation_fraction)
    throw std::invalid_argument(
        "--val-fraction: " + root + " is split already (train and " + evaluation +
        " folders); the fraction applies to a folder of class folders alone");
  auto train = std::make_shared<ImageFolder>((fs::path(root) / "train").string(), options);
  auto validation = std::make_shared<ImageFolder>((fs::path(root) / evaluation).string(), options);
  if (train->class_names() != validation->class_names())
    throw DataError(root + ": train has the classes " + join(train->class_names()) + ", " +
                    evaluation + " has " + join(validation->class_names()) +
                    "; both need the same class folders");
  return {train, validation,
          root + " is split by its folders, train and " + evaluation + ": " +
              with_sizes(*train, *validation)};
}

}  // namespace nnlab::data
