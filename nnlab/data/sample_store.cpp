#include "nnlab/data/sample_store.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace nnlab::data {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

SampleStore::SampleStore(size_t size) : size_(size) {
  // Whole huge pages, aligned, and advised before the first touch, so that filling the store
  // faults them in as huge pages (advice on pages already there waits for the kernel's
  // background collapse). A store under one huge page (a file of labels) spans few 4 KiB
  // pages and is not worth a 2 MiB block.
  const bool huge = size >= kHugePage;
  const size_t alignment = huge ? kHugePage : 64;
  const size_t rounded = std::max<size_t>(1, (size + alignment - 1) / alignment) * alignment;
  void* p = std::aligned_alloc(alignment, rounded);
  if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__)
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: 4 KiB pages work as well
#endif
  bytes_.reset(static_cast<uint8_t*>(p));
}

void SampleStore::Free::operator()(uint8_t* p) const { std::free(p); }

}  // namespace nnlab::data
