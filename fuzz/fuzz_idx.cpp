// IDX files (MNIST's format), raw or gzip-compressed: read_idx as images (rank 3) and labels.
#include "fuzz/fuzz_input.h"
#include "nnlab/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = nnlab::fuzz::write_input(data, size, "fuzz-idx3-ubyte");
  for (int rank : {3, 1})
    nnlab::fuzz::expect_success_or_clear_error(path, [&] { nnlab::data::read_idx(path, rank); });
  return 0;
}
