#include "core/allocator.h"

#include <cstdlib>
#include <new>
#include <string>

namespace nnlab {

MemoryStats Allocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Allocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes = stats_.current_bytes;
}

void Allocator::record_allocate(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.current_bytes += bytes;
  stats_.allocations += 1;
  if (stats_.current_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.current_bytes;
}

void Allocator::record_deallocate(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.current_bytes -= bytes;
}

void* HostAllocator::allocate(size_t bytes) {
  constexpr size_t kAlign = 64;
  size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* ptr = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  if (!ptr) throw std::bad_alloc();
  record_allocate(bytes);
  return ptr;
}

void HostAllocator::deallocate(void* ptr, size_t bytes) {
  std::free(ptr);
  record_deallocate(bytes);
}

}  // namespace nnlab
