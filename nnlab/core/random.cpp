#include "nnlab/core/random.h"

#include <cmath>

#include "nnlab/core/backend.h"
#include "nnlab/core/profiler.h"

namespace nnlab {

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  OpScope op_scope(t.backend(), Op::FillUniform, t.dtype());
  t.backend().fill_uniform(t, low, high, gen.seed, gen.take(uint64_t(t.numel())));
}

void normal_(const Tensor& t, double mean, double std, Generator& gen) {
  OpScope op_scope(t.backend(), Op::FillNormal, t.dtype());
  t.backend().fill_normal(t, mean, std, gen.seed, gen.take(uint64_t(t.numel())));
}

void kaiming_uniform_(const Tensor& t, int64_t fan_in, double a, Generator& gen) {
  double bound = std::sqrt(6.0 / ((1.0 + a * a) * double(fan_in)));
  uniform_(t, -bound, bound, gen);
}

}  // namespace nnlab
