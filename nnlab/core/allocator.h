// Allocators with byte statistics: every backend allocates through one, so that apps can
// report the peak memory a run really needed.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nnlab {

// The memory is not there (as opposed to any other failure of the system allocator): what
// CachingAllocator::raw_allocate throws for it, and what allocate() retries once. A
// std::bad_alloc, as the standard library's own, whose message says what was asked for.
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

std::string format_bytes(size_t bytes);  // "1.23 MiB"

// Host memory ran out: the message says what was being allocated, how much, how much was
// live, and which flags make it smaller (as the GPU allocator's error does).
class HostOutOfMemory : public OutOfMemory {
 public:
  // `what` names the allocation ("a float32 tensor [64, 3, 224, 224]"; "" when unknown);
  // `live_bytes`, the allocator's live tensor bytes, when the thrower knows them.
  HostOutOfMemory(const std::string& what, size_t bytes, std::optional<size_t> live_bytes);
  // The same failure, with what was being allocated named by a caller that knows.
  HostOutOfMemory naming(const std::string& what) const { return {what, bytes_, live_bytes_}; }

 private:
  size_t bytes_;
  std::optional<size_t> live_bytes_;
};

struct MemoryStats {
  size_t current_bytes = 0;  // live tensor bytes
  size_t peak_bytes = 0;     // most live bytes since the last reset_peak()
  size_t allocations = 0;    // number of allocate() calls
  size_t cached_bytes = 0;   // freed blocks kept for reuse by a caching allocator
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual MemoryStats stats() const;
  void reset_peak();

 protected:
  void record_allocate(size_t bytes);
  void record_deallocate(size_t bytes);
  mutable std::mutex mutex_;

 private:
  MemoryStats stats_;
};

// Keeps freed blocks for the next allocation: a training step allocates the same tensors as
// the last one, so after the first step nothing reaches the system allocator (whose large
// blocks are fresh pages to fault in and clear on every step, and on a GPU, a synchronizing
// cudaMalloc). Statistics count live tensor bytes, not the cache.
//
// Blocks under 1 MiB are cached by rounded size and reused only for that size. Larger ones,
// when the subclass asks for it (splits_large_blocks), are pieces of segments as in PyTorch's
// CUDA caching allocator: a request takes the smallest free piece that holds it, split when
// 1 MiB or more would be left over, and a freed piece merges with free neighbours of its
// segment. Cached by size alone, every size keeps as many blocks as were ever live together,
// idle while other sizes are live: ResNet-18's training step at 224x224, batch 32, with 825 MB
// of tensors live at its peak, held 1133 MB resident that way (the stem's 98 MB tensors, three
// at once in its backward, idle through the rest of the step) and 997 MB split.
class CachingAllocator : public Allocator {
 public:
  explicit CachingAllocator(bool splits_large_blocks = false)
      : splits_large_blocks_(splits_large_blocks) {}
  ~CachingAllocator() override;
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  MemoryStats stats() const override;
  // Returns every cached block, and every segment with nothing in use, to the system. Each
  // leaves the cache whether or not its raw_free succeeds (a failed one is leaked, never freed
  // twice); the first failure is thrown once all were tried.
  void empty_cache();

  static constexpr size_t kLargeBlock = size_t(1) << 20;

 protected:
  // Call empty_cache() in the destructor of a subclass: raw_free is gone by this destructor.
  // raw_allocate throws OutOfMemory when the memory is not there; allocate() then empties the
  // cache and tries once more. Any other exception is passed on as it is.
  virtual void* raw_allocate(size_t bytes) = 0;
  virtual void raw_free(void* ptr) = 0;
  // Called before empty_cache frees anything: a device allocator waits here for the work
  // still queued on the device, which may read blocks that tensors have already given back.
  virtual void wait_until_unused() {}

 private:
  // A piece of a segment (one raw_allocate, starting at `segment`), in use or free.
  struct Piece {
    size_t size;
    char* segment;
    bool free;
  };
  static size_t rounded(size_t bytes);
  void* take_cached(size_t size);      // nullptr when nothing cached fits; under mutex_
  void* take_piece(size_t size);       // the same, for large blocks
  void give_back_piece(char* ptr);     // marks it free and merges it with free neighbours
  bool is_whole_segment(std::map<char*, Piece>::const_iterator piece) const;
  bool is_large(size_t size) const { return splits_large_blocks_ && size >= kLargeBlock; }

  const bool splits_large_blocks_;
  std::unordered_map<size_t, std::vector<void*>> free_blocks_;  // by rounded size
  std::map<char*, Piece> pieces_;                                 // by address
  std::set<std::pair<size_t, char*>> free_pieces_;                // by size, then address
  size_t cached_bytes_ = 0;
};

// Whether the host allocator splits large blocks (see HostAllocator).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSplitsLargeBlocks = false;
#else
inline constexpr bool kSplitsLargeBlocks = true;
#endif

// 64-byte aligned host memory (a cache line, and enough for AVX-512 loads), cached. Its large
// blocks are split, except under AddressSanitizer, which would not see a kernel overrun one
// piece into the next. (The GPU's allocator never splits: cuda-sim's red zones around each
// cudaMalloc are what catch a kernel's out-of-bounds access.)
class HostAllocator : public CachingAllocator {
 public:
  HostAllocator() : CachingAllocator(kSplitsLargeBlocks) {}
  ~HostAllocator() override { empty_cache(); }

 protected:
  void* raw_allocate(size_t bytes) override;
  void raw_free(void* ptr) override;
};

}  // namespace nnlab
