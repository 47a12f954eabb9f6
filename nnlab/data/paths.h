// Where datasets live: a cache outside the repository, $NNLAB_DATA or ~/.cache/nnlab, filled
// by scripts/setup. Fashion-MNIST is also found where Debian's dataset-fashion-mnist puts it.
#pragma once
#include <string>

namespace nnlab::data {

std::string data_root();
// The directory of a named dataset ("mnist", "fashion-mnist"); throws DataError saying how to
// fetch it when it is missing.
std::string dataset_dir(const std::string& name);

}  // namespace nnlab::data
