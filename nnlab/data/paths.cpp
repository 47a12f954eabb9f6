#include "nnlab/data/paths.h"

#include <cstdlib>
#include <filesystem>

#include "nnlab/data/dataset.h"

namespace nnlab::data {

std::string data_root() {
  if (const char* env = std::getenv("NNLAB_DATA"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/nnlab";
}

std::string dataset_dir(const std::string& name) {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates = {data_root() + "/" + name};
  if (name == "fashion-mnist") candidates.push_back("/usr/share/datasets/fashion-mnist");
  std::error_code ec;
  for (const auto& dir : candidates)
    if (fs::is_directory(dir, ec)) return dir;
  throw DataError("dataset '" + name + "' not found in " + candidates.front() +
                  " (run scripts/setup to fetch it, or set NNLAB_DATA)");
}

}  // namespace nnlab::data
