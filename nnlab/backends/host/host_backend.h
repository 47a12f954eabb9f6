// What the CPU backends share: host memory through a caching allocator, and copies that are
// plain memcpy (the backend's memory is the host's).
#pragma once
#include <cstring>

#include "nnlab/core/backend.h"

namespace nnlab::host {

class HostBackend : public Backend {
 public:
  Allocator& allocator() override { return allocator_; }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  // float32 and float64 for every op; fills also write int32 tensors.
  bool supports(Op op, DType dtype) const override { return op == Op::Fill || is_floating(dtype); }

 private:
  HostAllocator allocator_;
};

}  // namespace nnlab::host
