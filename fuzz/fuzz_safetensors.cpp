// safetensors files: header length, JSON header, dtypes, shapes and data ranges.
#include "fuzz/fuzz_input.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = nnlab::fuzz::write_input(data, size, "fuzz.safetensors");
  nnlab::fuzz::expect_success_or_clear_error(
      path, [&] { nnlab::load_safetensors(path, nnlab::get_backend("reference")); });
  return 0;
}
