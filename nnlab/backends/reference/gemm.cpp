// Reference GEMM: op(a) and op(b) are first copied into row-major double matrices, then
// multiplied with the cache-friendly i-k-j loop order, accumulating in double.
#include <vector>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/backends/reference/backend.h"

namespace nnlab::reference {
namespace {
template <typename T>
std::vector<double> as_rows(const Tensor& t, bool transpose) {
  int64_t r = t.dim(0), c = t.dim(1);
  const T* p = t.data<T>();
  std::vector<double> out(static_cast<size_t>(r * c));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j)
      if (transpose)
        out[size_t(j * r + i)] = p[i * c + j];
      else
        out[size_t(i * c + j)] = p[i * c + j];
  return out;
}
}  // namespace

void ReferenceBackend::gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b,
                            double beta, const Tensor& c) {
  int64_t n = c.dim(0), m = c.dim(1), k = ta ? a.dim(0) : a.dim(1);
  host::dispatch_all_floats(c.dtype(), "gemm", [&](auto zero) {
    using T = decltype(zero);
    std::vector<double> A = as_rows<T>(a, ta), B = as_rows<T>(b, tb);
    std::vector<double> row(static_cast<size_t>(m));
    T* C = c.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      std::fill(row.begin(), row.end(), 0.0);
      for (int64_t p = 0; p < k; ++p) {
        double aip = A[size_t(i * k + p)];
        const double* brow = B.data() + p * m;  // B is empty when m is 0
        for (int64_t j = 0; j < m; ++j) row[size_t(j)] += aip * brow[j];
      }
      for (int64_t j = 0; j < m; ++j) {
        double prior = beta == 0 ? 0.0 : beta * double(C[i * m + j]);  // beta 0 ignores NaN in c
        C[i * m + j] = T(alpha * row[size_t(j)] + prior);
      }
    }
  });
}

}  // namespace nnlab::reference
