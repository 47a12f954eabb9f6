// Allocators with byte statistics: every backend allocates through one, so that apps can
// report the peak memory a run really needed.
#pragma once
#include <cstddef>
#include <mutex>

namespace nnlab {

struct MemoryStats {
  size_t current_bytes = 0;  // live tensor bytes
  size_t peak_bytes = 0;     // most live bytes since the last reset_peak()
  size_t allocations = 0;    // number of allocate() calls
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  MemoryStats stats() const;
  void reset_peak();

 protected:
  void record_allocate(size_t bytes);
  void record_deallocate(size_t bytes);

 private:
  mutable std::mutex mutex_;
  MemoryStats stats_;
};

// 64-byte aligned host memory (a cache line, and enough for AVX-512 loads).
class HostAllocator : public Allocator {
 public:
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
};

}  // namespace nnlab
