// The table nnlab/backends/cuda/CMakeLists.txt generates from `nvcc --resource-usage` (nnlab/sim/
// resource_usage.cmake): one row per kernel and architecture. Internal to occupancy.cpp.
#pragma once
#include <cstddef>

namespace nnlab::sim::detail {

struct ResourceRow {
  const char* mangled;  // the kernel's symbol in the nvcc build
  const char* arch;     // "sm_80"
  int registers, static_shared_bytes, barriers, stack_bytes, spill_store_bytes, spill_load_bytes;
};
extern const ResourceRow kResourceRows[];
extern const size_t kResourceRowCount;
extern const char* const kResourceUnavailable;  // "" when the rows are there

}  // namespace nnlab::sim::detail
