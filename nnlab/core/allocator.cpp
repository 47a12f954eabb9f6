#include "nnlab/core/allocator.h"

#include <cstdlib>
#include <exception>
#include <new>
#include <sstream>
#include <string>

namespace nnlab {

std::string format_bytes(size_t bytes) {
  std::ostringstream os;
  os.precision(2);
  os << std::fixed;
  if (bytes >= (size_t(1) << 30))
    os << double(bytes) / double(size_t(1) << 30) << " GiB";
  else if (bytes >= (size_t(1) << 20))
    os << double(bytes) / double(size_t(1) << 20) << " MiB";
  else
    os << double(bytes) / 1024.0 << " KiB";
  return os.str();
}

namespace {
std::string host_out_of_memory_message(const std::string& what, size_t bytes,
                                       std::optional<size_t> live_bytes) {
  return "out of host memory allocating " + (what.empty() ? "" : what + ": ") +
         std::to_string(bytes) + " bytes (" + format_bytes(bytes) + ")" +
         (live_bytes ? " with " + format_bytes(*live_bytes) + " of tensors live" : "") +
         "; try a smaller --batch-size or --image-size";
}
}  // namespace

HostOutOfMemory::HostOutOfMemory(const std::string& what, size_t bytes, std::optional<size_t> live_bytes)
    : OutOfMemory(host_out_of_memory_message(what, bytes, live_bytes)), bytes_(bytes), live_bytes_(live_bytes) {}

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

CachingAllocator::~CachingAllocator() = default;

size_t CachingAllocator::rounded(size_t bytes) {
  constexpr size_t kGranule = 512;  // also the alignment every block gets
  return bytes == 0 ? kGranule : (bytes + kGranule - 1) / kGranule * kGranule;
}

void* CachingAllocator::allocate(size_t bytes) {
  size_t size = rounded(bytes);
  void* ptr = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_blocks_.find(size);
    if (it != free_blocks_.end() && !it->second.empty()) {
      ptr = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= size;
    }
  }
  if (!ptr) {
    try {
      ptr = raw_allocate(size);
    } catch (const OutOfMemory&) {
      // What is missing may be sitting in the cache under other sizes: give it all back and
      // try once more (as PyTorch does) before reporting out-of-memory.
      if (stats().cached_bytes == 0) throw;
      empty_cache();
      ptr = raw_allocate(size);
    }
  }
  record_allocate(bytes);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_blocks_[rounded(bytes)].push_back(ptr);
    cached_bytes_ += rounded(bytes);
  }
  record_deallocate(bytes);
}

MemoryStats CachingAllocator::stats() const {
  MemoryStats s = Allocator::stats();
  std::lock_guard<std::mutex> lock(mutex_);
  s.cached_bytes = cached_bytes_;
  return s;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cached_bytes_ == 0) return;
  wait_until_unused();  // when it throws, nothing was freed and the cache is as it was
  std::unordered_map<size_t, std::vector<void*>> blocks;
  blocks.swap(free_blocks_);
  cached_bytes_ = 0;
  std::exception_ptr first_error;
  for (auto& [size, list] : blocks)
    for (void* p : list) {
      try {
        raw_free(p);
      } catch (...) {
        if (!first_error) first_error = std::current_exception();
      }
    }
  if (first_error) std::rethrow_exception(first_error);
}

void* HostAllocator::raw_allocate(size_t bytes) {
  void* ptr = std::aligned_alloc(512, bytes);  // bytes is a multiple of 512
  if (!ptr) throw HostOutOfMemory("", bytes, stats().current_bytes);
  return ptr;
}

void HostAllocator::raw_free(void* ptr) {
  std::free(ptr);
}

}  // namespace nnlab
