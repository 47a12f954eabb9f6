// The GPU side of data-parallel training: each rank bound to one GPU of its machine, and
// collectives through NCCL on the backends' one compute stream (nnlab/backends/cuda/portable.h),
// so a reduction is ordered after the backward kernels that produced its gradients and before
// the optimizer's, without the host waiting. The NCCL communicator is set up over MPI: rank 0
// makes the unique id and broadcasts it. Compiled by nvcc in builds with CUDA and MPI; the
// NCCL part only where NCCL was found. (Written without a GPU to run it on: it compiles and
// links, and scripts/gpu_check.sh runs it on 1 and on all GPUs of a GPU machine.)
#include <cuda_runtime.h>
#include <mpi.h>

#include <exception>
#include <stdexcept>
#include <string>

#include "nnlab/backends/cuda/portable.h"
#include "nnlab/config.h"
#include "nnlab/core/backend.h"
#include "nnlab/distributed/transports.h"
#include "nnlab/distributed/world.h"

#if NNLAB_HAVE_NCCL
#include <nccl.h>
#endif

namespace nnlab::distributed {

int bind_local_gpu(int local_rank) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();  // no GPU here: clear the error, the CPU backends carry on
    return -1;
  }
  int device = local_rank % count;
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return device;
}

#if NNLAB_HAVE_NCCL
namespace {

void check_cuda(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                             ": " + cudaGetErrorString(err));
}
void check_nccl(ncclResult_t result, ncclComm_t comm, const char* call, const char* file,
                int line) {
  if (result == ncclSuccess || result == ncclInProgress) return;
  std::string detail = ncclGetErrorString(result);
  const char* last = comm ? ncclGetLastError(comm) : nullptr;
  if (last && *last) detail += std::string(" (") + last + ")";
  throw std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                           ": " + detail);
}
#define NNLAB_DIST_CUDA(call) check_cuda((call), #call, __FILE__, __LINE__)
#define NNLAB_NCCL(comm, call) check_nccl((call), (comm), #call, __FILE__, __LINE__)

// A reduction queued on the compute stream: complete when the event after it has passed.
class NcclReduce : public PendingReduce {
 public:
  NcclReduce(Tensor t, cudaStream_t stream) : t_(std::move(t)) {
    NNLAB_DIST_CUDA(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    NNLAB_DIST_CUDA(cudaEventRecord(done_, stream));
  }
  ~NcclReduce() override { cudaEventDestroy(done_); }
  bool test() override {
    cudaError_t status = cudaEventQuery(done_);
    if (status == cudaErrorNotReady) return false;
    NNLAB_DIST_CUDA(status);
    return true;
  }
  void wait() override {}  // later work on the stream runs after the reduction

 private:
  Tensor t_;  // keeps the bucket alive while the reduction is queued
  cudaEvent_t done_ = nullptr;
};

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(Backend& backend) : stream_(cuda::current_stream()) {
    const World& w = world();
    int devices = 0;
    NNLAB_DIST_CUDA(cudaGetDeviceCount(&devices));
    if (w.local_size > devices)
      throw std::runtime_error(std::to_string(w.local_size) + " ranks on this machine share " +
                               std::to_string(devices) +
                               " GPU(s); NCCL needs one GPU per rank: "
                               "start at most " +
                               std::to_string(devices) + " ranks per machine");
    if (!stream_)
      throw std::logic_error("NCCL communicator: " + backend.name() + " has no compute stream yet");
    ncclUniqueId id{};
    if (w.rank == 0) NNLAB_NCCL(nullptr, ncclGetUniqueId(&id));
    MPI_Bcast(&id, int(sizeof id), MPI_BYTE, 0, MPI_COMM_WORLD);
    NNLAB_NCCL(nullptr, ncclCommInitRank(&comm_, w.size, id, w.rank));
  }
  ~NcclCommunicator() override {
    // On an exception the job is being aborted and a peer may never answer: abort the
    // communicator instead of waiting for what is queued on it.
    if (std::uncaught_exceptions() > 0) {
      ncclCommAbort(comm_);
      return;
    }
    cudaStreamSynchronize(stream_);  // nothing queued may still use the communicator
    ncclCommDestroy(comm_);
  }
  std::string describe() const override {
    int version = 0;
    ncclGetVersion(&version);  // e.g. 22809 for 2.28.9
    return "NCCL " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) +
           "." + std::to_string(version % 100) + " on GPU " + std::to_string(world().gpu);
  }
  void broadcast(const Tensor& t, int root) override {
    NNLAB_NCCL(comm_, ncclBroadcast(t.raw(), t.raw(), t.bytes(), ncclUint8, root, comm_, stream_));
  }
  std::unique_ptr<PendingReduce> all_reduce_sum(const Tensor& t) override {
    check_dtype(t, DType::F32, "all_reduce_sum", "tensor");
    NNLAB_NCCL(comm_, ncclAllReduce(t.raw(), t.raw(), size_t(t.numel()), ncclFloat32, ncclSum,
                                    comm_, stream_));
    return std::make_unique<NcclReduce>(t, stream_);
  }

 private:
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
};
}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Backend& backend) {
  if (!world().launched)
    throw std::runtime_error(
        "make_communicator: this process was not started by an MPI "
        "launcher (mpirun, srun), so it has no ranks to talk to");
  return std::make_unique<NcclCommunicator>(backend);
}
#endif

}  // namespace nnlab::distributed
