#include <vector>

#include "nnlab/backends/cpu/backend.h"
#include "nnlab/backends/cpu/common.h"
#include "nnlab/backends/cpu/float16.h"

namespace nnlab::cpu {

// Column sums: row blocks are summed in parallel, then the block sums in order.
void CpuBackend::sum_dim0(const Tensor& x, const Tensor& out) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::sum_dim0, x, out);
  host::dispatch_float(x.dtype(), "sum_dim0", [&](auto zero) {
    using T = decltype(zero);
    using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;
    auto X = matrix<T>(x);
    int64_t n = x.dim(0), m = x.dim(1);
    int64_t grain = std::max<int64_t>(64, kElementGrain / std::max<int64_t>(1, m));
    std::vector<RowVec> partial(size_t((n + grain - 1) / grain), RowVec::Zero(m));
    parallel_chunks(n, grain, threads_, [&](int64_t lo, int64_t hi) {
      partial[size_t(lo / grain)] = X.middleRows(lo, hi - lo).colwise().sum();
    });
    Eigen::Map<RowVec> O(out.data<T>(), m);
    O.setZero();
    for (const RowVec& p : partial) O += p;
  });
}

void CpuBackend::sum(const Tensor& x, const Tensor& out) {
  if (is_reduced_float(x.dtype()))  // 16-bit: float32 code on widened copies (float16.h)
    return widened(*this, {out}, &CpuBackend::sum, x, out);
  host::dispatch_float(x.dtype(), "sum", [&](auto zero) {
    using T = decltype(zero);
    const T* X = x.data<T>();
    int64_t n = x.numel();
    std::vector<double> partial(size_t((n + kElementGrain - 1) / kElementGrain), 0.0);
    parallel_chunks(n, kElementGrain, threads_, [&](int64_t lo, int64_t hi) {
      using Vec = Eigen::Array<T, Eigen::Dynamic, 1>;
      partial[size_t(lo / kElementGrain)] = double(Eigen::Map<const Vec>(X + lo, hi - lo).sum());
    });
    double total = 0;
    for (double p : partial) total += p;
    out.data<T>()[0] = T(total);
  });
}

}  // namespace nnlab::cpu
