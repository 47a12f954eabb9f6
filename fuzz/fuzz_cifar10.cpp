// CIFAR-10 binary batches: the test split read from a fuzzed test_batch.bin, then its records.
#include <vector>

#include "fuzz/fuzz_input.h"
#include "nnlab/data/cifar10.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = nnlab::fuzz::write_input(data, size, "test_batch.bin");
  nnlab::fuzz::expect_success_or_clear_error(path, [&] {
    nnlab::data::Cifar10 set(nnlab::fuzz::scratch_dir(), nnlab::data::Split::Test);
    std::vector<uint8_t> pixels(3 * 32 * 32);
    for (int64_t i = 0; i < set.size(); ++i)
      if (set.get(i, pixels.data()) >= 10) std::abort();  // labels were checked on load
  });
  return 0;
}
