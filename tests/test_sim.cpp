// The CUDA simulator: semantics (barriers, shuffles, shared memory per block, atomics),
// the limits a GPU enforces, the errors a GPU would hide, race detection by schedule, and
// the first real kernels (tiled SGEMM, warp-shuffle reduction, dynamic-shared softmax)
// against CPU loops under every schedule.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nnlab/backends/cuda/api.h"
#include "nnlab/core/float16.h"
#include "nnlab/core/philox.h"
#include "nnlab/sim/half.h"
#include "nnlab/sim/runtime.h"
#include "nnlab/sim/sim.h"

namespace nnlab::cuda_sim {
#include "tests/sim_kernels.h"
}  // namespace nnlab::cuda_sim

using namespace nnlab;
using namespace nnlab::sim::runtime;
namespace k = nnlab::cuda_sim;
namespace runtime = nnlab::sim::runtime;

namespace {
// Device memory holding a copy of `host`, freed at scope exit.
template <typename T>
struct DeviceBuffer {
  explicit DeviceBuffer(const std::vector<T>& host) : n(host.size()) {
    cudaMalloc(&ptr, n * sizeof(T));
    cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice);
  }
  explicit DeviceBuffer(size_t count, T fill = T()) : DeviceBuffer(std::vector<T>(count, fill)) {}
  ~DeviceBuffer() { cudaFree(ptr); }
  std::vector<T> host() const {
    std::vector<T> out(n);
    cudaMemcpy(out.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost);
    return out;
  }
  T* ptr = nullptr;
  size_t n;
};

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(philox::uniform(seed, i, -1, 1));
  return v;
}

struct NamedSchedule {
  const char* name;
  sim::Schedule schedule;
  uint64_t seed;
};
const NamedSchedule kSchedules[] = {{"fifo", sim::Schedule::Fifo, 0},
                                    {"reverse", sim::Schedule::Reverse, 0},
                                    {"random 1", sim::Schedule::Random, 1},
                                    {"random 2", sim::Schedule::Random, 2},
                                    {"random 3", sim::Schedule::Random, 3}};

// Runs f under each schedule, then restores FIFO.
template <typename F>
void for_each_schedule(F f) {
  for (const auto& s : kSchedules) {
    CAPTURE(s.name);
    sim::set_schedule(s.schedule, s.seed);
    f(s);
  }
  sim::set_schedule(sim::Schedule::Fifo);
}

void expect_sim_error(const std::function<void()>& f, const std::string& fragment) {
  CHECK_THROWS_WITH_AS(f(), doctest::Contains(fragment.c_str()), sim::SimError);
}
}  // namespace

TEST_CASE("sim: barriers order shared-memory writes before reads, under every schedule") {
  auto in = random_values(4 * 96, 1);
  DeviceBuffer<float> din(in), dout(in.size());
  for_each_schedule([&](const NamedSchedule&) {
    k::reverse_in_block(din.ptr, dout.ptr, 4, 96);
    auto out = dout.host();
    for (int b = 0; b < 4; ++b)
      for (int t = 0; t < 96; ++t) CHECK(out[size_t(b * 96 + t)] == in[size_t(b * 96 + 95 - t)]);
  });
}

TEST_CASE("sim: a missing __syncthreads is caught by the reversed and random schedules") {
  auto in = random_values(8 * 64, 2);  // non-uniform per block: stale shared values differ
  DeviceBuffer<float> din(in), dout(in.size());
  k::shift_synced(din.ptr, dout.ptr, 8, 64);
  std::vector<float> want = dout.host();
  for_each_schedule([&](const NamedSchedule& s) {
    k::shift_synced(din.ptr, dout.ptr, 8, 64);
    CHECK(dout.host() == want);  // the correct kernel agrees under every schedule
    k::shift_racy(din.ptr, dout.ptr, 8, 64);
    bool differs = dout.host() != want;
    // FIFO runs thread t-1 to completion before thread t: the backward dependency looks fine.
    if (s.schedule == sim::Schedule::Fifo)
      CHECK_FALSE(differs);
    else
      CHECK(differs);
  });
}

TEST_CASE("sim: shared memory is private to each block while blocks run concurrently") {
  sim::set_threads(2);
  DeviceBuffer<int> out(size_t(200 * 64), -1);
  k::block_id_in_shared(out.ptr, 200, 64);
  auto h = out.host();
  for (int b = 0; b < 200; ++b) CHECK(h[size_t(b * 64 + 63)] == b);
  for (size_t i = 0; i < h.size(); ++i) REQUIRE(h[i] == int(i / 64));
  sim::set_threads(0);
}

TEST_CASE("sim: warp shuffles have CUDA's lane arithmetic") {
  std::vector<int> in(32);
  for (int i = 0; i < 32; ++i) in[size_t(i)] = 100 + i;
  DeviceBuffer<int> din(in), dout(5 * 32);
  for_each_schedule([&](const NamedSchedule&) {
    k::shuffle_ops(din.ptr, dout.ptr);
    auto o = dout.host();
    for (int l = 0; l < 32; ++l) {
      CAPTURE(l);
      CHECK(o[size_t(l)] == 103);                               // broadcast from lane 3
      CHECK(o[size_t(32 + l)] == (l < 31 ? 101 + l : 131));     // down 1: lane 31 keeps its own
      CHECK(o[size_t(64 + l)] == 100 + (l ^ 5));                // butterfly
      CHECK(o[size_t(96 + l)] == (l >= 2 ? 98 + l : 100 + l));  // up 2: lanes 0, 1 keep their own
      CHECK(o[size_t(128 + l)] == 100 + (l / 8) * 8 + (l % 8 + 1) % 8);  // width 8
    }
  });
}

TEST_CASE("sim: atomics on int and float across concurrent blocks") {
  sim::set_threads(2);
  auto values = random_values(64 * 128, 3);
  values[777] = 5.5f;
  DeviceBuffer<float> dvalues(values), fsum(1, 0.0f), fmax(1, -1e30f);
  DeviceBuffer<int> counter(1, 0), imax(1, -1);
  k::atomics(counter.ptr, fsum.ptr, imax.ptr, fmax.ptr, dvalues.ptr, 64, 128);
  CHECK(counter.host()[0] == 64 * 128);
  CHECK(fsum.host()[0] == 8192.0f);  // exact: sums of ones stay integers below 2^24
  CHECK(imax.host()[0] == 64 * 128 - 1);
  CHECK(fmax.host()[0] == 5.5f);
  sim::set_threads(0);
}

// A launch the GPU refuses fails in NNLAB_LAUNCH's cudaGetLastError check, with the runtime's
// error string and the simulator's reason; the error is not sticky: the next launch runs.
void expect_refused_launch(const std::function<void()>& f, const std::string& fragment) {
  CHECK_THROWS_WITH_AS(f(), doctest::Contains(fragment.c_str()), std::runtime_error);
  CHECK(cudaGetLastError() == cudaSuccess);
  k::empty_kernel_with_block(32, 1, 1);
}

TEST_CASE("sim: launches a GPU rejects are rejected with the runtime's error and the limit") {
  const std::string config = "failed: invalid configuration argument (";
  expect_refused_launch([] { k::empty_kernel_with_block(1025, 1, 1); },
                        config + "block (1025, 1, 1): dimension x is 1025, the limit is 1024)");
  expect_refused_launch([] { k::empty_kernel_with_block(33, 33, 1); },
                        config + "block (33, 33, 1) has 1089 threads, the limit is 1024)");
  expect_refused_launch([] { k::empty_kernel_with_block(1, 1, 65); },
                        config + "block (1, 1, 65): dimension z is 65, the limit is 64)");
  expect_refused_launch([] { k::empty_kernel_with_block(0, 1, 1); }, config + "a zero dimension");
  expect_refused_launch([] { k::empty_kernel_with_grid(1, 65536, 1); },
                        config + "grid (1, 65536, 1): dimension y exceeds 65535)");
  expect_refused_launch([] { k::empty_kernel_with_grid(1, 1, 65536); }, config + "grid (1, 1, 65536)");
  expect_refused_launch([] { k::empty_kernel_with_grid(0, 1, 1); },
                        "launch of kernel empty_kernel at ");
  k::empty_kernel_with_block(32, 32, 1);  // 1024 is fine
  DeviceBuffer<float> out(64);
  expect_refused_launch(
      [&] { k::read_dynamic_shared(out.ptr, 64, 64 * 1024, false); },
      "failed: invalid argument (65536 bytes of dynamic shared memory, the limit is 49152 "
      "without cudaFuncSetAttribute");
  k::read_dynamic_shared(out.ptr, 64, 64 * 1024, true);  // opted in
}

namespace {
void noop_kernel(int) {}
// kernel<<<1, block, shared>>> without NNLAB_LAUNCH's check: the error stays for the test.
void launch_noop(sim::dim3 block, size_t shared = 0) {
  runtime::launch({"noop_kernel", __FILE__, __LINE__}, sim::dim3(1), block, shared, noop_kernel, 0);
}
// Leaves the simulator's runtime as the tests found it: no sizes, no errors, no trace.
struct RuntimeGuard {
  ~RuntimeGuard() {
    set_device_bytes(kUnlimited);
    set_pinned_bytes(kUnlimited);
    reset_errors();
    set_trace(false);
    take_trace();
  }
};
}  // namespace

TEST_CASE("sim runtime: cudaGetLastError returns a launch's error once, cudaPeekAtLastError keeps it") {
  RuntimeGuard guard;
  REQUIRE(cudaGetLastError() == cudaSuccess);
  launch_noop(sim::dim3(2048));
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidConfiguration);
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidConfiguration);
  launch_noop(sim::dim3(32));  // a call that succeeds leaves the last error as it is
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  CHECK(cudaGetLastError() == cudaSuccess);
  launch_noop(sim::dim3(32), 64 * 1024);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaFuncSetAttribute(noop_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             228 * 1024) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidConfiguration)) ==
        "invalid configuration argument");
}

TEST_CASE("sim runtime: a kernel fault is sticky: every later call returns it, cudaGetLastError too") {
  RuntimeGuard guard;
  void *p = nullptr, *q = nullptr;
  REQUIRE(cudaMalloc(&p, 256) == cudaSuccess);
  inject_failure("launch", cudaErrorIllegalAddress);
  launch_noop(sim::dim3(32));
  CHECK(cudaGetLastError() == cudaErrorIllegalAddress);
  CHECK(cudaGetLastError() == cudaErrorIllegalAddress);  // not reset
  CHECK(cudaPeekAtLastError() == cudaErrorIllegalAddress);
  CHECK(cudaMalloc(&q, 256) == cudaErrorIllegalAddress);
  CHECK(q == nullptr);
  CHECK(cudaFree(p) == cudaErrorIllegalAddress);
  CHECK(cudaDeviceSynchronize() == cudaErrorIllegalAddress);
  CHECK_THROWS_WITH_AS(k::empty_kernel_with_block(32, 1, 1),
                       doctest::Contains("failed: an illegal memory access was encountered"),
                       std::runtime_error);
  reset_errors();  // the simulator only: a real process would have to exit
  CHECK(cudaFree(p) == cudaSuccess);
  CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("sim runtime: an injected failure hits the named call once, after the successes skipped") {
  RuntimeGuard guard;
  cudaEvent_t a = nullptr, b = nullptr, c = nullptr;
  inject_failure("cudaEventCreate", cudaErrorMemoryAllocation, 1);
  CHECK(cudaEventCreate(&a) == cudaSuccess);
  CHECK(cudaEventCreate(&b) == cudaErrorMemoryAllocation);
  CHECK(cudaEventCreate(&c) == cudaSuccess);
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaEventDestroy(a) == cudaSuccess);
  CHECK(cudaEventDestroy(c) == cudaSuccess);
}

TEST_CASE("sim runtime: cudaMalloc fails past the simulated device's size; cudaMemGetInfo agrees") {
  RuntimeGuard guard;
  const size_t in_use = sim::device_bytes_in_use(), mib = 1 << 20;
  set_device_bytes(in_use + mib);
  size_t free_bytes = 0, total = 0;
  REQUIRE(cudaMemGetInfo(&free_bytes, &total) == cudaSuccess);
  CHECK(total == in_use + mib);
  CHECK(free_bytes == mib);
  void *a = nullptr, *b = nullptr;
  REQUIRE(cudaMalloc(&a, mib / 2) == cudaSuccess);
  REQUIRE(cudaMemGetInfo(&free_bytes, &total) == cudaSuccess);
  CHECK(free_bytes == mib / 2);
  CHECK(cudaMalloc(&b, 3 * mib / 4) == cudaErrorMemoryAllocation);
  CHECK(b == nullptr);
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaGetLastError() == cudaSuccess);  // not sticky
  CHECK(cudaFree(a) == cudaSuccess);
  REQUIRE(cudaMalloc(&b, 3 * mib / 4) == cudaSuccess);
  CHECK(cudaFree(b) == cudaSuccess);
}

TEST_CASE("sim runtime: page-locked memory has its own size; pointers and handles are checked") {
  RuntimeGuard guard;
  const LiveObjects before = live_objects();
  void* h = nullptr;
  set_pinned_bytes(0);
  CHECK(cudaMallocHost(&h, 1) == cudaErrorMemoryAllocation);
  set_pinned_bytes(kUnlimited);
  REQUIRE(cudaMallocHost(&h, 100) == cudaSuccess);
  CHECK(live_objects().pinned_buffers == before.pinned_buffers + 1);
  CHECK(cudaFreeHost(h) == cudaSuccess);
  CHECK(cudaFreeHost(h) == cudaErrorInvalidValue);  // twice
  std::vector<float> pageable(4);
  CHECK(cudaFreeHost(pageable.data()) == cudaErrorInvalidValue);
  CHECK(cudaFree(pageable.data()) == cudaErrorInvalidValue);
  cudaEvent_t e = nullptr;
  REQUIRE(cudaEventCreate(&e) == cudaSuccess);
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, e, e) == cudaErrorInvalidResourceHandle);  // never recorded
  CHECK(cudaEventRecord(e) == cudaSuccess);
  CHECK(cudaEventElapsedTime(&ms, e, e) == cudaSuccess);
  CHECK(cudaEventDestroy(e) == cudaSuccess);
  CHECK(cudaEventDestroy(e) == cudaErrorInvalidResourceHandle);
  cudaStream_t s = nullptr;
  REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
  CHECK(cudaStreamDestroy(s) == cudaSuccess);
  CHECK(cudaStreamDestroy(s) == cudaErrorInvalidResourceHandle);
  CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
  CHECK(live_objects() == before);
}

TEST_CASE("sim runtime: the trace lists the runtime calls and launches in order") {
  RuntimeGuard guard;
  set_trace(true);
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, 64) == cudaSuccess);
  k::empty_kernel_with_block(32, 1, 1);
  REQUIRE(cudaFree(p) == cudaSuccess);
  CHECK(take_trace() == std::vector<std::string>{"cudaMalloc", "launch empty_kernel", "cudaFree"});
}

TEST_CASE("sim: errors a GPU would hang on or hide are reported with the source lines") {
  DeviceBuffer<int> out(64);
  expect_sim_error([&] { k::divergent_barrier(out.ptr); }, "divergent __syncthreads");
  expect_sim_error([&] { k::divergent_barrier(out.ptr); }, "sim_kernels.cu:");
  expect_sim_error([&] { k::barrier_after_return(out.ptr); },
                   "is reached by 16 of 32 threads; the others returned early");
  sim::set_strict_barriers(false);
  k::barrier_after_return(out.ptr);  // lax mode: exited threads count as arrived
  sim::set_strict_barriers(true);
  expect_sim_error([&] { k::warp_op_vs_barrier(out.ptr); }, "deadlock: no thread can proceed");
  expect_sim_error([&] { k::shuffle_partial_mask(out.ptr); }, "shuffle with partial mask");
  expect_sim_error([&] { k::shuffle_after_exit(out.ptr); }, "needs all 32 lanes, but 16 exited");
  std::vector<float> host(64);
  DeviceBuffer<float> dout(64);
  expect_sim_error([&] { k::reverse_in_block(host.data(), dout.ptr, 1, 64); },
                   "kernel reverse_kernel launched at");
  expect_sim_error([&] { k::reverse_in_block(host.data(), dout.ptr, 1, 64); },
                   "argument 0 is not device memory");
  std::vector<float> other(64);
  expect_sim_error([&] { cudaMemcpy(host.data(), dout.ptr, 256, cudaMemcpyHostToDevice); },
                   "cudaMemcpy: the destination is not device memory");
  expect_sim_error([&] { cudaMemcpy(dout.ptr, host.data(), 256, cudaMemcpyDeviceToHost); },
                   "the destination is device memory, but the copy kind says it is host memory");
}

TEST_CASE("sim: uninitialised dynamic shared memory reads as NaN") {
  DeviceBuffer<float> out(64, 0.0f);
  k::read_dynamic_shared(out.ptr, 64, 64 * sizeof(float), false);
  for (float v : out.host()) CHECK(std::isnan(v));
}

TEST_CASE("kernels on the simulator: SGEMM (naive and tiled) against a CPU loop") {
  for (auto [m, n, kk] : {std::tuple{37, 29, 53}, std::tuple{64, 64, 64}, std::tuple{1, 1, 1},
                          std::tuple{5, 70, 33}}) {
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(kk);
    auto a = random_values(size_t(m * kk), 4), b = random_values(size_t(kk * n), 5);
    std::vector<float> want(size_t(m * n));
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double acc = 0;
        for (int p = 0; p < kk; ++p) acc += double(a[size_t(i * kk + p)]) * b[size_t(p * n + j)];
        want[size_t(i * n + j)] = float(acc);
      }
    DeviceBuffer<float> da(a), db(b), dc(size_t(m * n));
    for_each_schedule([&](const NamedSchedule&) {
      for (auto gemm : {k::sgemm_naive, k::sgemm_tiled}) {
        gemm(da.ptr, db.ptr, dc.ptr, m, n, kk);
        auto got = dc.host();
        for (size_t i = 0; i < got.size(); ++i)
          REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
      }
    });
  }
}

TEST_CASE("kernels on the simulator: two-pass block reduction with warp shuffles") {
  for (int n : {1, 31, 1000, 100003}) {
    CAPTURE(n);
    auto x = random_values(size_t(n), 6);
    double want = 0;
    for (float v : x) want += v;
    DeviceBuffer<float> dx(x), partials(size_t(k::reduce_partials(n))), out(1);
    for_each_schedule([&](const NamedSchedule&) {
      k::sum(dx.ptr, n, partials.ptr, out.ptr);
      CHECK(out.host()[0] == doctest::Approx(want).epsilon(1e-5));
    });
  }
}

TEST_CASE("kernels on the simulator: row softmax with dynamic shared memory") {
  for (auto [rows, cols] : {std::pair{7, 1000}, std::pair{3, 3}, std::pair{1, 129}}) {
    auto x = random_values(size_t(rows * cols), 7);
    for (auto& v : x) v *= 20;  // large logits: the max subtraction matters
    DeviceBuffer<float> dx(x), dy(x.size());
    for_each_schedule([&](const NamedSchedule&) {
      k::softmax_rows(dx.ptr, dy.ptr, rows, cols);
      auto y = dy.host();
      for (int r = 0; r < rows; ++r) {
        double mx = -1e30, total = 0;
        for (int j = 0; j < cols; ++j) mx = std::max(mx, double(x[size_t(r * cols + j)]));
        for (int j = 0; j < cols; ++j) total += std::exp(double(x[size_t(r * cols + j)]) - mx);
        for (int j = 0; j < cols; ++j)
          REQUIRE(y[size_t(r * cols + j)] ==
                  doctest::Approx(std::exp(double(x[size_t(r * cols + j)]) - mx) / total)
                      .epsilon(1e-4));
      }
    });
  }
}

TEST_CASE("kernels on the simulator: axpy on an odd size") {
  auto x = random_values(100003, 8), y = random_values(100003, 9);
  DeviceBuffer<float> dx(x), dy(y);
  k::axpy(2.5f, dx.ptr, dy.ptr, 100003);
  auto got = dy.host();
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == 2.5f * x[i] + y[i]);
}

// The 16-bit elementwise kernels take two elements per thread in one 32-bit access where every
// pointer is 4-byte aligned, one at a time otherwise (and for an odd last element): both paths
// give each element its float32 result rounded once, on aligned and misaligned pointers (an
// odd element offset) and odd sizes.
TEST_CASE("kernels on the simulator: 16-bit elementwise ops, paired and unpaired, round each result once") {
  const int64_t n = 1001;
  for (auto kind : {k::Float16Kind::Half, k::Float16Kind::BFloat16}) {
    bool half = kind == k::Float16Kind::Half;
    auto narrow = [&](double v) { return half ? half_bits_from(v) : bfloat16_bits_from(v); };
    auto widen = [&](uint16_t b) { return double(half ? half_bits_to_float(b) : bfloat16_bits_to_float(b)); };
    std::vector<uint16_t> a(n + 1), b(n + 1);
    for (int64_t i = 0; i <= n; ++i) {
      a[size_t(i)] = narrow(philox::normal(21, uint64_t(i), 0, 3));
      b[size_t(i)] = narrow(philox::normal(22, uint64_t(i), 0, 3));
    }
    // Element 1 of a 16-bit buffer is 2 bytes past alignment: every pointer aligned, all
    // misaligned, and the output alone misaligned.
    for (auto [offset, out_offset] : {std::pair{0, 0}, std::pair{1, 1}, std::pair{0, 1}}) {
      CAPTURE(half);
      CAPTURE(offset);
      CAPTURE(out_offset);
      DeviceBuffer<uint16_t> da(a), db(b), dout(size_t(n + 1));
      const uint16_t *pa = da.ptr + offset, *pb = db.ptr + offset;
      uint16_t* po = dout.ptr + out_offset;
      auto check = [&](const char* op, auto expected) {
        CAPTURE(op);
        auto got = dout.host();
        for (int64_t i = 0; i < n; ++i) {
          double x = widen(a[size_t(i + offset)]), y = widen(b[size_t(i + offset)]);
          REQUIRE(got[size_t(i + out_offset)] == narrow(float(expected(x, y))));
        }
      };
      k::add_16(kind, pa, pb, po, n);
      check("add", [](double x, double y) { return float(x) + float(y); });
      k::mul_16(kind, pa, pb, po, n);
      check("mul", [](double x, double y) { return float(x) * float(y); });
      k::scale_16(kind, pa, 0.3f, po, n);
      check("scale", [](double x, double) { return 0.3f * float(x); });
      k::relu_forward_16(kind, pa, po, n);
      check("relu", [](double x, double) { return x > 0 ? x : 0.0; });
      k::relu_backward_16(kind, pa, pb, po, n);
      check("relu backward", [](double dy, double y) { return y > 0 ? dy : 0.0; });
      // bias_add in place over 7 columns (pairs straddle rows), from a copy of a.
      cudaMemcpy(dout.ptr, a.data(), a.size() * 2, cudaMemcpyHostToDevice);
      k::bias_add_16(kind, po, pb, n / 7, 7);
      auto got = dout.host();
      for (int64_t i = 0; i < n / 7 * 7; ++i)
        REQUIRE(got[size_t(i + out_offset)] ==
                narrow(float(widen(a[size_t(i + out_offset)])) + float(widen(b[size_t(i % 7 + offset)]))));
    }
  }
}

TEST_CASE("kernels on the simulator: the four GEMM variants, every transpose, alpha and beta") {
  using V = k::GemmVariant;
  // Multiples of 4 take the float4 path in every transpose; the others its fallback.
  for (auto [m, n, kk] : {std::tuple{67, 45, 33}, std::tuple{1, 70, 17}, std::tuple{64, 64, 16},
                          std::tuple{68, 76, 36}, std::tuple{4, 132, 20}}) {
    auto a = random_values(size_t(m * kk), 10), b = random_values(size_t(kk * n), 11),
         c0 = random_values(size_t(m * n), 12);
    DeviceBuffer<float> da(a), db(b), dc(c0);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // op(a)[i][p] and op(b)[p][j] read the same buffers as the kernel does.
        std::vector<float> want(size_t(m * n));
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double acc = 0;
            for (int p = 0; p < kk; ++p)
              acc += double(ta ? a[size_t(p * m + i)] : a[size_t(i * kk + p)]) *
                     (tb ? b[size_t(j * kk + p)] : b[size_t(p * n + j)]);
            want[size_t(i * n + j)] = float(1.5 * acc - 0.5 * c0[size_t(i * n + j)]);
          }
        bool multiples_of_4 = m % 4 == 0 && n % 4 == 0 && kk % 4 == 0;
        REQUIRE(k::gemm_vectorizable(ta, tb, m, n, kk, da.ptr, db.ptr, dc.ptr) == multiples_of_4);
        for_each_schedule([&](const NamedSchedule&) {
          for (V v : {V::Naive, V::Tiled, V::RegisterBlocked, V::Vectorized}) {
            CAPTURE(int(v));
            CAPTURE(ta);
            CAPTURE(tb);
            cudaMemcpy(dc.ptr, c0.data(), c0.size() * 4, cudaMemcpyHostToDevice);
            k::gemm_variant(v, ta, tb, m, n, kk, 1.5f, da.ptr, db.ptr, -0.5f, dc.ptr);
            auto got = dc.host();
            for (size_t i = 0; i < got.size(); ++i)
              REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4));
          }
        });
      }
  }
}

// CUDA's 16-bit arithmetic on the simulator is the exact result rounded once to nearest even.
// The oracle is integer arithmetic: a float16 is an integer multiple of 2^-24 (a bfloat16
// drawn with an exponent in [-20, 20], of 2^-27), so sums, differences, products (units of
// 2^-48 or 2^-54) and fused multiply-adds are exact in __int128; the exact value then rounds
// once (through its nearest double and the remainder, which decides the ties double rounding
// would get wrong).
TEST_CASE("sim: __hadd, __hsub, __hmul and __hfma round the exact result once, to nearest even") {
  for (bool bf16 : {false, true}) {
    CAPTURE(bf16);
    const int unit = bf16 ? 27 : 24;  // values are integer multiples of 2^-unit
    auto widen = [&](uint16_t bits) { return bf16 ? bfloat16_bits_to_float(bits) : half_bits_to_float(bits); };
    auto to_units = [&](uint16_t bits) { return __int128(std::ldexp(double(widen(bits)), unit)); };
    // The 16-bit number nearest to s * 2^-scale, ties to even.
    auto round_exact = [&](__int128 s, int scale) {
      double d = double(s), rest = double(s - __int128(d));
      d = std::ldexp(d, -scale);
      rest = std::ldexp(rest, -scale);
      return bf16 ? float16_detail::round_double<float16_detail::BFloat16Format>(d, rest)
                  : float16_detail::round_double<float16_detail::HalfFormat>(d, rest);
    };
    auto draw = [&](uint64_t i, uint64_t stream) {
      uint32_t r = philox::philox4x32_10(i, stream).x;
      if (!bf16) {
        uint16_t bits = uint16_t(r);
        return (bits & 0x7c00) == 0x7c00 ? uint16_t(bits & 0x83ff) : bits;  // finite
      }
      uint16_t exponent = uint16_t(107 + r % 41);  // 2^-20 .. 2^20
      return uint16_t((r >> 16 & 0x8000) | exponent << 7 | (r >> 8 & 0x7f));
    };
    std::vector<uint16_t> a, b, c;
    for (uint64_t i = 0; i < 100000; ++i) {
      a.push_back(draw(i, 1));
      b.push_back(draw(i, 2));
      c.push_back(draw(i, 3));
    }
    if (bf16) {  // (1 + 2^-7) * 1.5 is a tie; -2^-60 decides it downwards, which double rounding misses
      for (uint16_t tiny : {uint16_t(0x2180), uint16_t(0xa180)}) {
        a.push_back(0x3f81);
        b.push_back(0x3fc0);
        c.push_back(tiny);
      }
    }
    int n = int(a.size());
    DeviceBuffer<uint16_t> da(a), db(b), dc(c), out(size_t(4 * n));
    k::half_arithmetic(da.ptr, db.ptr, dc.ptr, out.ptr, n, bf16);
    std::vector<uint16_t> got = out.host();
    if (bf16)  // no bfloat16 __hfma kernel below sm_80: the simulator's intrinsic, called directly
      for (int i = 0; i < n; ++i)
        got[size_t(3 * n + i)] = sim::__hfma(sim::__nv_bfloat16{a[size_t(i)]}, sim::__nv_bfloat16{b[size_t(i)]},
                                             sim::__nv_bfloat16{c[size_t(i)]}).bits;
    int64_t finite_checked = 0;
    int drawn = bf16 ? n - 2 : n;  // the two constructed cases lie outside the oracle's range
    for (int i = 0; i < drawn; ++i) {
      __int128 x = to_units(a[size_t(i)]), y = to_units(b[size_t(i)]), z = to_units(c[size_t(i)]);
      uint16_t want[4] = {round_exact(x + y, unit), round_exact(x - y, unit), round_exact(x * y, 2 * unit),
                          round_exact(x * y + z * (__int128(1) << unit), 2 * unit)};
      for (int op = 0; op < 4; ++op) {
        CAPTURE(i);
        CAPTURE(op);
        uint16_t g = got[size_t(op * n + i)];
        // Zero results: the sign of an exact zero sum is +0 under round to nearest; compare magnitudes.
        if ((want[op] & 0x7fff) == 0) {
          REQUIRE((g & 0x7fff) == 0);
          continue;
        }
        REQUIRE(g == want[op]);
        ++finite_checked;
      }
    }
    if (bf16) {
      CHECK(got[size_t(3 * n + n - 2)] == 0x3fc2);  // the tie plus 2^-60: up
      CHECK(got[size_t(3 * n + n - 1)] == 0x3fc1);  // the tie minus 2^-60: down, not to even
    }
    CHECK(finite_checked > 300000);
  }
}
