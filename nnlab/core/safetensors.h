// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional
// "__metadata__": {string: string}}, then the raw little-endian data. nnlab reads and writes
// F32, F64, I32, F16 and BF16. Writes go to a temporary file renamed over the target, so a
// crash never leaves a half-written file in its place.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nnlab/core/tensor.h"

namespace nnlab {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes next to the target and renames over it. A symlink at `path` is written through: the
// file it points to is replaced, the link stays. Throws std::runtime_error naming the path when
// the target is not a regular file (a directory, a device, a fifo: refused, never replaced) or
// cannot be written.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The checks save_safetensors(path) makes, made up front (a run checks its checkpoint path before
// it trains): the target is a regular file or absent, its directory exists, and a file can be
// created there (the temporary file is created and removed).
void check_safetensors_writable(const std::string& path);

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Loads every tensor onto `backend`. Throws std::runtime_error naming the file and the field
// when the header is malformed, a dtype is unknown, a shape disagrees with its byte range, a
// range falls outside the file, or the ranges do not tile the data exactly (as the format
// requires: no overlap, no gap, nothing after the last); nothing is allocated from an unchecked
// header value.
SafetensorsFile load_safetensors(const std::string& path, Backend& backend);

// The "__metadata__" of the file's header, without reading any tensor.
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

}  // namespace nnlab
