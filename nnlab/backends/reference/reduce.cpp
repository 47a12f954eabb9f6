#include <vector>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"

namespace nnlab::reference {

void ReferenceBackend::sum_dim0(const Tensor& x, const Tensor& out) {
  int64_t n = x.dim(0), m = x.dim(1);
  host::dispatch_all_floats(x.dtype(), "sum_dim0", [&](auto zero) {
    using T = decltype(zero);
    const T* X = x.data<T>();
    std::vector<double> acc(size_t(m), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) acc[size_t(j)] += X[i * m + j];
    for (int64_t j = 0; j < m; ++j) out.data<T>()[j] = T(acc[size_t(j)]);
  });
}

void ReferenceBackend::sum(const Tensor& x, const Tensor& out) {
  host::dispatch_all_floats(x.dtype(), "sum", [&](auto zero) {
    using T = decltype(zero);
    const T* X = x.data<T>();
    double acc = 0;
    for (int64_t i = 0; i < x.numel(); ++i) acc += X[i];
    out.data<T>()[0] = T(acc);
  });
}

}  // namespace nnlab::reference
