// The registry's entry points for `cudnn` (backend.cu): the cuda backend with cuBLAS and
// cuDNN where they apply, created on first use and never destroyed.
#pragma once
#include <string>

namespace nnlab {
class Backend;
}

namespace nnlab::cudnn {
Backend& backend();
std::string unavailable_reason();  // the cuda backend's reason, when there is one
}  // namespace nnlab::cudnn
