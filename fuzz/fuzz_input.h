// Shared by the fuzz targets: each hands its input to a loader the way a user's file reaches
// it, as a file, and accepts only the errors a user can act on (std::runtime_error, which
// DataError is, and std::invalid_argument) with a message that names the file. Any other
// outcome -- a crash, a sanitizer report, another exception, a message without the file's
// name -- is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace nnlab::fuzz {

// A directory of this process's own, removed at exit.
struct ScratchDir {
  ScratchDir() : path((std::filesystem::temp_directory_path() / ("nnlab-fuzz-" + std::to_string(getpid()))).string()) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};
inline const std::string& scratch_dir() {
  static const ScratchDir dir;
  return dir.path;
}

inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  if (!out) std::abort();
  return path;
}

// Runs load(); a rejection is fine when it is a user-facing error naming `file`.
template <typename F> void expect_success_or_clear_error(const std::string& file, F load) {
  try {
    load();
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(file) == std::string::npos) {
      std::fprintf(stderr, "error does not name %s: %s\n", file.c_str(), e.what());
      std::abort();
    }
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find(file) == std::string::npos) {
      std::fprintf(stderr, "error does not name %s: %s\n", file.c_str(), e.what());
      std::abort();
    }
  }
}

}  // namespace nnlab::fuzz
