// Generator: a seed and a position in its Philox stream. Every random fill takes the next
// `numel` counters, so one seed fixes initialisation whatever the backend.
#pragma once
#include <cstdint>

#include "nnlab/core/tensor.h"

namespace nnlab {

struct Generator {
  explicit Generator(uint64_t seed = 0) : seed(seed) {}
  uint64_t take(uint64_t count) {
    uint64_t start = offset;
    offset += count;
    return start;
  }
  uint64_t seed;
  uint64_t offset = 0;
};

void uniform_(const Tensor& t, double low, double high, Generator& gen);
void normal_(const Tensor& t, double mean, double std, Generator& gen);
// torch.nn.init.kaiming_uniform_ with leaky-ReLU slope `a` and fan-in mode: bound =
// sqrt(6 / ((1 + a^2) fan_in)); PyTorch's Linear uses a = sqrt(5), i.e. 1 / sqrt(fan_in).
void kaiming_uniform_(const Tensor& t, int64_t fan_in, double a, Generator& gen);

}  // namespace nnlab
