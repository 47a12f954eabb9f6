// Collectives over MPI on host memory. The CPU backends' tensors (and cuda-sim's, whose
// "device" memory is host memory) are handed to MPI in place; a GPU backend's tensors go
// through a host copy, for builds or runs without NCCL.
#include <mpi.h>

#include <chrono>
#include <climits>
#include <thread>
#include <vector>

#include "nnlab/core/backend.h"
#include "nnlab/distributed/transports.h"
#include "nnlab/distributed/world.h"

namespace nnlab::distributed {
namespace {

// MPI counts are int: larger buffers go in chunks of at most this many elements.
constexpr size_t kMaxCount = size_t(INT_MAX) / 2;

class MpiReduce : public PendingReduce {
 public:
  MpiReduce(Tensor t, MPI_Comm comm) : t_(std::move(t)) {
    float* data = nullptr;
    if (t_.backend().is_gpu()) {
      staging_.resize(size_t(t_.numel()));
      t_.backend().copy_to_host(staging_.data(), t_.raw(), t_.bytes());
      data = staging_.data();
    } else {
      data = t_.data<float>();
    }
    for (size_t done = 0, n = size_t(t_.numel()); done < n; done += kMaxCount) {
      requests_.emplace_back();
      MPI_Iallreduce(MPI_IN_PLACE, data + done, int(std::min(kMaxCount, n - done)), MPI_FLOAT,
                     MPI_SUM, comm, &requests_.back());
    }
  }
  ~MpiReduce() override {
    if (!complete_) wait();  // MPI may still write into the tensor: never leave it behind
  }
  bool test() override {
    if (complete_) return true;
    int done = 0;
    MPI_Testall(int(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
    if (done) finish();
    return complete_;
  }
  // MPI_Waitall would spin on the core until the other ranks arrive. When ranks share cores
  // with each other or other work (2 ranks on this 2-core machine among other jobs), that
  // spinning takes the time the awaited rank needs: polling for 100 us, then sleeping 50 us
  // between tests, trained LeNet on CIFAR-10 at 1649/1475/1323 images/s against 1226/1279/1047
  // with MPI_Waitall (2 ranks, interleaved, load ~15). Large messages move in one copy (Open
  // MPI's CMA), so the sleeps do not cut a transfer into many waits.
  void wait() override {
    auto start = std::chrono::steady_clock::now();
    while (!test())
      if (std::chrono::steady_clock::now() - start > std::chrono::microseconds(100))
        std::this_thread::sleep_for(std::chrono::microseconds(50));
  }

 private:
  void finish() {
    complete_ = true;
    if (!staging_.empty()) t_.backend().copy_from_host(t_.raw(), staging_.data(), t_.bytes());
  }
  Tensor t_;
  std::vector<float> staging_;  // GPU tensors only
  std::vector<MPI_Request> requests_;
  bool complete_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() { MPI_Comm_dup(MPI_COMM_WORLD, &comm_); }  // its own message space
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  std::string describe() const override { return "MPI (" + mpi_version() + ")"; }

  void broadcast(const Tensor& t, int root) override {
    std::vector<char> staging;
    char* data = static_cast<char*>(t.raw());
    if (t.backend().is_gpu()) {
      staging.resize(t.bytes());
      t.backend().copy_to_host(staging.data(), t.raw(), t.bytes());
      data = staging.data();
    }
    for (size_t done = 0; done < t.bytes(); done += kMaxCount)
      MPI_Bcast(data + done, int(std::min(kMaxCount, t.bytes() - done)), MPI_BYTE, root, comm_);
    if (!staging.empty()) t.backend().copy_from_host(t.raw(), staging.data(), t.bytes());
  }

  std::unique_ptr<PendingReduce> all_reduce_sum(const Tensor& t) override {
    check_dtype(t, DType::F32, "all_reduce_sum", "tensor");
    return std::make_unique<MpiReduce>(t, comm_);
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};
}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(Backend&) {
  if (!world().launched)
    throw std::runtime_error(
        "make_communicator: this process was not started by an MPI "
        "launcher (mpirun, srun), so it has no ranks to talk to");
  return std::make_unique<MpiCommunicator>();
}

}  // namespace nnlab::distributed
