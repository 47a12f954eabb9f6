// Theoretical occupancy of a launch, as the CUDA occupancy calculator computes it (the
// toolkit's cuda_occupancy.h, cudaOccMaxActiveBlocksPerMultiprocessor, with the attributes
// cudaFuncGetAttributes gives), for sm_75, sm_80, sm_86, sm_89 and sm_90. Registers per thread
// and static shared memory per kernel are the nvcc build's: nnlab/backends/cuda/CMakeLists.txt runs
// `nvcc --resource-usage` over every kernel file for these architectures and records the
// report in a table compiled into the simulator. A build without nvcc has no table, and says so.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace nnlab::sim {

// What cudaGetDeviceProperties reports for a compute capability, and the allocation rules
// cuda_occupancy.h applies to it.
struct Architecture {
  const char* name;  // "sm_80"
  int major, minor;
  int max_threads_per_sm;
  int max_blocks_per_sm;
  size_t shared_per_sm;              // sharedMemPerMultiprocessor
  size_t shared_per_block_opt_in;    // sharedMemPerBlockOptin
  size_t reserved_shared_per_block;  // reservedSharedMemPerBlock
  int shared_granularity;            // bytes of shared memory allocated at a time
  int max_threads_per_block = 1024;
  int registers_per_sm = 65536;
  int registers_per_block = 65536;
  int max_registers_per_thread = 256;  // cuda_occupancy.h's value from compute capability 7
  int register_granularity = 256;      // registers allocated per warp at a time
  int sub_partitions = 4;
  size_t shared_per_block = 48 * 1024;  // without opt-in
};
const std::vector<Architecture>& architectures();

// One kernel on one architecture, from ptxas' report.
struct KernelResources {
  int registers = 0;            // per thread
  int static_shared_bytes = 0;
  int barriers = 0;             // named barriers the kernel uses
  int stack_bytes = 0, spill_store_bytes = 0, spill_load_bytes = 0;
};

struct Occupancy {
  std::string arch;
  KernelResources resources;
  int blocks_per_sm = 0;  // active blocks per multiprocessor (0: the launch cannot run)
  int warps_per_sm = 0;   // active warps
  int max_warps_per_sm = 0;
  std::string limited_by;  // "warps", "registers", "shared memory", "blocks", "barriers"; '+'-joined
  double fraction() const { return max_warps_per_sm ? double(warps_per_sm) / max_warps_per_sm : 0; }
};

struct OccupancyReport {
  std::vector<Occupancy> architectures;  // in architectures() order; empty when unavailable
  std::string unavailable;               // why, when there are none
  const Occupancy* find(const std::string& arch) const;
};

// cudaOccMaxActiveBlocksPerMultiprocessor for one launch. max_dynamic_shared is the kernel's
// cudaFuncAttributeMaxDynamicSharedMemorySize (48 KiB minus its static shared memory unless set).
Occupancy theoretical_occupancy(const Architecture& arch, const KernelResources& kernel,
                                int block_threads, size_t dynamic_shared, size_t max_dynamic_shared);

// For a kernel of this build by its signature without the build's namespaces (see
// kernel_signature_key), from the table the build recorded.
OccupancyReport occupancy(const std::string& signature_key, int block_threads,
                          size_t dynamic_shared, size_t opted_in_dynamic_shared);

// "nnlab::cuda::(anonymous namespace)::k(float*, nnlab::cuda::ConvShape)" and
// its simulator twins become "(anonymous namespace)::k(float*, ConvShape)".
std::string kernel_signature_key(const std::string& demangled);

// Why the build recorded no resource usage ("" when it did), and for how many kernels it did
// (source kernels: the instances of a template count once).
std::string resource_table_unavailable_reason();
size_t resource_table_kernels();

}  // namespace nnlab::sim
