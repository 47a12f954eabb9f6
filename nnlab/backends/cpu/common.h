// Helpers shared by the cpu backend's op files: Eigen views of tensors and a chunked
// OpenMP loop whose chunking does not depend on the thread count.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include "nnlab/backends/host/dispatch.h"
#include "nnlab/core/tensor.h"

// Keeps a hot loop out of line where inlining measurably slowed it (GCC and Clang).
#define NNLAB_NOINLINE __attribute__((noinline))

namespace nnlab::cpu {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename T>
Eigen::Map<RowMatrix<T>> matrix(const Tensor& t) {
  return {t.data<T>(), Eigen::Index(t.dim(0)), Eigen::Index(t.dim(1))};
}
template <typename T>
Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> array(const Tensor& t) {
  return {t.data<T>(), Eigen::Index(t.numel())};
}

// Calls f(begin, end) for the chunks [k * grain, (k + 1) * grain) of [0, n), in parallel when
// there is more than one chunk. Chunk boundaries depend only on n and grain.
template <typename F>
void parallel_chunks(int64_t n, int64_t grain, int threads, F&& f) {
  int64_t chunks = (n + grain - 1) / grain;
  if (chunks <= 1 || threads <= 1) {
    for (int64_t c = 0; c < chunks; ++c) f(c * grain, std::min(n, (c + 1) * grain));
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) f(c * grain, std::min(n, (c + 1) * grain));
}

// Calls f(i) for every i in [0, n), each item taken by whichever thread is free: for items
// of much work each (a thread slowed by other work on the machine takes fewer of them).
template <typename F>
void parallel_items(int64_t n, int threads, F&& f) {
  if (n <= 1 || threads <= 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// Calls f(begin, end) once per thread, for the thread's share of [0, n) (shares equal within
// one): for work split so that each thread's share is done in one go.
template <typename F>
void parallel_ranges(int64_t n, int threads, F&& f) {
  const int64_t parts = std::min<int64_t>(n, std::max(threads, 1));
  if (parts <= 1) {
    f(int64_t(0), n);
    return;
  }
#pragma omp parallel for num_threads(int(parts)) schedule(static, 1)
  for (int64_t part = 0; part < parts; ++part) f(n * part / parts, n * (part + 1) / parts);
}

// Calls f(begin, end) for equal shares of [0, n), thread t taking share t, with no more
// shares than grains (or parts of one) in n: for work whose elements are each computed alone
// (an optimizer's update, a copy), where the cut cannot change a result. Each thread then
// works on the same range of a tensor step after step.
template <typename F>
void parallel_shares(int64_t n, int64_t grain, int threads, F&& f) {
  parallel_ranges(n, int(std::min<int64_t>(threads, (n + grain - 1) / grain)), f);
}

constexpr int64_t kElementGrain = 1 << 15;  // elements per chunk: below this threads cost more

}  // namespace nnlab::cpu
