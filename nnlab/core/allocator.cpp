#include "nnlab/core/allocator.h"

#include <cstdlib>
#include <exception>
#include <iterator>
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

void* CachingAllocator::take_cached(size_t size) {
  if (is_large(size)) return take_piece(size);
  auto it = free_blocks_.find(size);
  if (it == free_blocks_.end() || it->second.empty()) return nullptr;
  void* ptr = it->second.back();
  it->second.pop_back();
  cached_bytes_ -= size;
  return ptr;
}

void* CachingAllocator::take_piece(size_t size) {
  auto best = free_pieces_.lower_bound({size, nullptr});
  if (best == free_pieces_.end()) return nullptr;
  char* ptr = best->second;
  free_pieces_.erase(best);
  Piece& piece = pieces_.at(ptr);
  cached_bytes_ -= piece.size;
  piece.free = false;
  if (piece.size - size >= kLargeBlock) {  // what is left over is a free piece of its own
    Piece rest{piece.size - size, piece.segment, true};
    piece.size = size;
    pieces_.emplace(ptr + size, rest);
    free_pieces_.insert({rest.size, ptr + size});
    cached_bytes_ += rest.size;
  }
  return ptr;
}

void CachingAllocator::give_back_piece(char* ptr) {
  auto it = pieces_.find(ptr);
  Piece& piece = it->second;
  piece.free = true;
  auto next = std::next(it);
  if (next != pieces_.end() && next->second.free && next->second.segment == piece.segment) {
    free_pieces_.erase({next->second.size, next->first});
    cached_bytes_ -= next->second.size;
    piece.size += next->second.size;
    pieces_.erase(next);
  }
  if (it != pieces_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.free && prev->second.segment == piece.segment) {
      free_pieces_.erase({prev->second.size, prev->first});
      cached_bytes_ -= prev->second.size;
      prev->second.size += piece.size;
      pieces_.erase(it);
      it = prev;
    }
  }
  free_pieces_.insert({it->second.size, it->first});
  cached_bytes_ += it->second.size;
}

bool CachingAllocator::is_whole_segment(std::map<char*, Piece>::const_iterator piece) const {
  const auto next = std::next(piece);
  return piece->first == piece->second.segment &&
         (next == pieces_.end() || next->second.segment != piece->second.segment);
}

void* CachingAllocator::allocate(size_t bytes) {
  size_t size = rounded(bytes);
  void* ptr = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ptr = take_cached(size);
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
    if (is_large(size)) {  // a fresh segment, one piece in use
      std::lock_guard<std::mutex> lock(mutex_);
      pieces_.emplace(static_cast<char*>(ptr), Piece{size, static_cast<char*>(ptr), false});
    }
  }
  record_allocate(bytes);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t bytes) {
  size_t size = rounded(bytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (is_large(size)) {
      give_back_piece(static_cast<char*>(ptr));
    } else {
      free_blocks_[size].push_back(ptr);
      cached_bytes_ += size;
    }
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
  std::vector<void*> to_free;
  for (auto& [size, list] : free_blocks_) {
    to_free.insert(to_free.end(), list.begin(), list.end());
    cached_bytes_ -= size * list.size();
  }
  free_blocks_.clear();
  // A segment goes back whole or not at all: only those that are one free piece.
  for (auto it = free_pieces_.begin(); it != free_pieces_.end();) {
    const auto piece = pieces_.find(it->second);
    if (!is_whole_segment(piece)) {
      ++it;
      continue;
    }
    to_free.push_back(it->second);
    cached_bytes_ -= piece->second.size;
    pieces_.erase(piece);
    it = free_pieces_.erase(it);
  }
  std::exception_ptr first_error;
  for (void* p : to_free) {
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
