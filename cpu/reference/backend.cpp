#include "cpu/reference/backend.h"

#include <cstring>

namespace nnlab::reference {

bool ReferenceBackend::supports(Op op, DType dtype) const {
  if (op == Op::Fill) return true;  // fills also make int32 tensors
  return is_floating(dtype);
}

void ReferenceBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void ReferenceBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void ReferenceBackend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memmove(dst, src, bytes);
}

}  // namespace nnlab::reference
