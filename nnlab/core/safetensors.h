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

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Loads every tensor onto `backend`. Throws std::runtime_error naming the file and the field
// when the header is malformed, a dtype is unknown, a shape disagrees with its byte range, or
// a range falls outside the file; nothing is allocated from an unchecked header value.
SafetensorsFile load_safetensors(const std::string& path, Backend& backend);

}  // namespace nnlab
