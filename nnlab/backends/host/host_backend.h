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
  // Every op in float32 and float64, and in float16 and bfloat16 but those of master weights
  // (optimizer updates, unscaling); fills also write int32 tensors.
  bool supports(Op op, DType dtype) const override {
    if (op == Op::Fill) return true;
    return dtype == DType::F32 || dtype == DType::F64 || (is_reduced_float(dtype) && !is_master_weight_op(op));
  }

 private:
  HostAllocator allocator_;
};

}  // namespace nnlab::host
