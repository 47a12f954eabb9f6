// The GPU backends' host code (nnlab/backends/cuda/backend.h: the caching device allocator, uploads
// through page-locked staging buffers, the objects a backend owns) run where it can fail: on
// the simulator's runtime, which fails as the CUDA runtime does (nnlab/sim/runtime.h) with
// a simulated device size, a page-locked memory size, injected failures and sticky faults.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "nnlab/backends/cuda/backend.h"  // compiled with NNLAB_SIM: nnlab::cuda_sim::CudaBackend
#include "nnlab/core/backend.h"
#include "nnlab/core/tensor.h"

using namespace nnlab;
using namespace nnlab::sim::runtime;
using nnlab::cuda_sim::DeviceAllocator;
using nnlab::cuda_sim::CudaBackend;

namespace {
const size_t kKiB = 1024;

// The simulated device has `free_bytes` free from now on (or no size); at scope exit the
// runtime is as the tests found it (no sizes, no errors, no trace).
struct SimulatedDevice {
  SimulatedDevice() = default;
  explicit SimulatedDevice(size_t free_bytes) { set_device_bytes(sim::device_bytes_in_use() + free_bytes); }
  ~SimulatedDevice() {
    set_device_bytes(kUnlimited);
    set_pinned_bytes(kUnlimited);
    reset_errors();
    set_trace(false);
    take_trace();
  }
};

std::string to_string(const LiveObjects& o) {
  return std::to_string(o.streams) + " streams, " + std::to_string(o.events) + " events, " +
         std::to_string(o.pinned_buffers) + " page-locked buffers";
}

CachingAllocator& cache_of(Backend& be) {
  return dynamic_cast<CachingAllocator&>(be.allocator());
}

// Tensors of `kib` KiB given back at once: their blocks stay in the backend's cache.
void leave_cached(Backend& be, std::initializer_list<size_t> kib) {
  std::vector<Tensor> tensors;
  for (size_t k : kib) tensors.push_back(Tensor::empty(Shape{int64_t(k * kKiB / 4)}, DType::F32, be));
}

std::vector<float> ramp(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + float(i);
  return v;
}

// An upload of `v` through copy_from_host, read back.
std::vector<float> round_trip(Backend& be, const std::vector<float>& v) {
  Tensor t = Tensor::empty(Shape{int64_t(v.size())}, DType::F32, be);
  be.copy_from_host(t.raw(), v.data(), v.size() * sizeof(float));
  return t.to_host<float>();
}
}  // namespace

TEST_CASE("cuda-sim: after an out-of-memory retry the next launch succeeds") {
  CudaBackend be;
  cache_of(be).empty_cache();
  SimulatedDevice device(1024 * kKiB);
  leave_cached(be, {256, 256});
  // 768 KiB fit only once the cache is given back: the first cudaMalloc fails, the retry not.
  Tensor big = Tensor::empty(Shape{768 * kKiB / 4}, DType::F32, be);
  CHECK(cache_of(be).stats().cached_bytes == 0);
  be.fill(big, 2.0);  // its launch checks cudaGetLastError: the handled failure must be gone
  CHECK(big.to_host<float>()[0] == 2.0f);
}

TEST_CASE("cuda-sim: out of memory names the bytes asked and free, and a smaller batch") {
  CudaBackend be;
  cache_of(be).empty_cache();
  SimulatedDevice device(1024 * kKiB);
  leave_cached(be, {256});
  std::string message;
  try {
    Tensor::empty(Shape{2048 * kKiB / 4}, DType::F32, be);
  } catch (const OutOfMemory& e) {
    message = e.what();
  }
  // After the retry, with the cache given back: all of the simulated device is free.
  size_t free_bytes = 0, total = 0;
  REQUIRE(cudaMemGetInfo(&free_bytes, &total) == cudaSuccess);
  CHECK(free_bytes == 1024 * kKiB);
  CHECK(message == "cuda-sim: out of device memory allocating 2097152 bytes (" +
                       std::to_string(free_bytes) + " of " + std::to_string(total) +
                       " free); try a smaller --batch-size");
  be.fill(Tensor::empty(Shape{4}, DType::F32, be), 1.0);  // and the device still works
}

TEST_CASE("cuda-sim: a kernel fault is reported as itself, not as out of memory") {
  CudaBackend be;
  cache_of(be).empty_cache();
  SimulatedDevice device(1024 * kKiB);  // restores the runtime at the end
  inject_failure("launch", cudaErrorIllegalAddress);
  Tensor t = Tensor::empty(Shape{16}, DType::F32, be);
  CHECK_THROWS_WITH_AS(be.fill(t, 1.0), doctest::Contains("an illegal memory access"), std::runtime_error);
  std::string message;
  try {
    Tensor::empty(Shape{1000}, DType::F32, be);  // a size not cached: cudaMalloc
  } catch (const std::exception& e) {
    message = e.what();
  }
  CHECK(message.find("cudaMalloc(&ptr, bytes) failed at ") == 0);
  CHECK(message.find(": an illegal memory access was encountered") != std::string::npos);
  CHECK(message.find("out of device memory") == std::string::npos);
  reset_errors();
}

TEST_CASE("cuda-sim: empty_cache waits for the device before freeing") {
  CudaBackend be;
  SimulatedDevice restore;
  cache_of(be).empty_cache();
  leave_cached(be, {4, 8});
  set_trace(true);
  cache_of(be).empty_cache();
  std::vector<std::string> calls = take_trace();
  REQUIRE(calls.size() == 3);
  CHECK(calls[0] == "cudaDeviceSynchronize");
  CHECK(calls[1] == "cudaFree");
  CHECK(calls[2] == "cudaFree");
}

TEST_CASE("cuda-sim: two backends share the device's cache, so one's retry reaches the other's blocks") {
  CudaBackend first, second;  // as cuda and cudnn in one process
  CHECK(&first.allocator() == &second.allocator());
  cache_of(first).empty_cache();
  cache_of(second).empty_cache();
  SimulatedDevice device(1024 * kKiB);
  leave_cached(first, {256, 256});
  Tensor big = Tensor::empty(Shape{768 * kKiB / 4}, DType::F32, second);
  second.fill(big, 3.0);
  CHECK(big.to_host<float>()[0] == 3.0f);
}

TEST_CASE("cuda-sim: a failed page-locked allocation leaves no freed buffer behind") {
  CudaBackend be;
  SimulatedDevice restore;
  std::vector<float> small = ramp(32 * kKiB, 1), large = ramp(64 * kKiB, 7);  // 128, 256 KiB
  CHECK(round_trip(be, small) == small);  // each staging buffer holds 128 KiB
  CHECK(round_trip(be, small) == small);
  set_pinned_bytes(0);  // no page-locked memory: the buffers cannot grow
  CHECK(round_trip(be, large) == large);  // copied from pageable memory instead
  CHECK(round_trip(be, large) == large);
  set_pinned_bytes(kUnlimited);
  CHECK(round_trip(be, large) == large);  // the buffers grow now (none freed twice)
  CHECK(round_trip(be, large) == large);
  CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("cuda-sim: a backend releases its stream, events and page-locked buffers") {
  const LiveObjects before = live_objects();
  {
    CudaBackend be;
    std::vector<float> v = ramp(32 * kKiB, 0);
    CHECK(round_trip(be, v) == v);
    CHECK(round_trip(be, v) == v);
    CHECK(live_objects().pinned_buffers == before.pinned_buffers + 2);
  }
  CHECK(to_string(live_objects()) == to_string(before));
}

TEST_CASE("cuda-sim: a backend whose constructor fails part-way leaks nothing") {
  SimulatedDevice restore;
  const LiveObjects before = live_objects();
  inject_failure("cudaEventCreate", cudaErrorMemoryAllocation, 1);  // the second event
  CHECK_THROWS_WITH_AS(CudaBackend(), doctest::Contains("cudaEventCreate"), std::runtime_error);
  CHECK(to_string(live_objects()) == to_string(before));
  CHECK(cudaGetLastError() == cudaSuccess);  // reported by the exception, not left behind
}

TEST_CASE("cuda-sim: a stopwatch releases its events, also when its constructor fails part-way") {
  CudaBackend be;
  SimulatedDevice restore;
  const LiveObjects before = live_objects();
  {
    auto watch = be.make_stopwatch();
    watch->start();
    CHECK(watch->stop_seconds() >= 0);
  }
  CHECK(to_string(live_objects()) == to_string(before));
  inject_failure("cudaEventCreate", cudaErrorMemoryAllocation, 1);  // its second event
  CHECK_THROWS_WITH_AS(be.make_stopwatch(), doctest::Contains("cudaEventCreate(&stop_)"),
                       std::runtime_error);
  CHECK(to_string(live_objects()) == to_string(before));
  CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("cuda-sim: a cudaFree failing part-way through empty_cache frees nothing twice") {
  DeviceAllocator allocator;
  SimulatedDevice restore;
  std::vector<void*> blocks;
  for (size_t bytes : {1000, 2000, 3000}) blocks.push_back(allocator.allocate(bytes));
  for (size_t i = 0; i < blocks.size(); ++i) allocator.deallocate(blocks[i], 1000 * (i + 1));
  inject_failure("cudaFree", cudaErrorInvalidValue, 1);  // the second of three
  CHECK_THROWS_WITH_AS(allocator.empty_cache(), doctest::Contains("cudaFree"), std::runtime_error);
  CHECK(allocator.stats().cached_bytes == 0);
  set_trace(true);
  CHECK_NOTHROW(allocator.empty_cache());  // nothing left to free: no block freed a second time
  CHECK(take_trace().empty());
  // The block whose cudaFree failed was dropped, not freed: give it back to the simulator.
  for (void* p : blocks) cudaFree(p);
  cudaGetLastError();
}

TEST_CASE("cuda-sim: the device allocator's destructor never throws, even after a kernel fault") {
  SimulatedDevice restore;
  auto allocator = std::make_unique<DeviceAllocator>();
  void* block = allocator->allocate(512);
  allocator->deallocate(block, 512);
  inject_failure("launch", cudaErrorIllegalAddress);
  nnlab::sim::runtime::launch({"fault", __FILE__, __LINE__}, sim::dim3(1), sim::dim3(1), 0,
                              +[](int) {}, 0);
  REQUIRE(cudaGetLastError() == cudaErrorIllegalAddress);  // sticky: every cudaFree fails now
  allocator.reset();  // says so on stderr; a throw here would be std::terminate
  reset_errors();
  CHECK(cudaFree(block) == cudaSuccess);  // it could not be freed then: it is still there
}
