// Tensor collectives across the ranks of the world (nnlab/distributed/world.h), through an
// existing engine rather than a home-made transport: MPI for CPU backends, NCCL for the GPU
// backends (cuda, cudnn) in builds that have it. A communicator serves one backend.
#pragma once
#include <memory>
#include <string>

#include "nnlab/core/tensor.h"

namespace nnlab {
class Backend;
}

namespace nnlab::distributed {

// An all-reduce that has been started and is not yet known to be complete.
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  // Lets the transport progress it without blocking; true once the sum is in the tensor.
  virtual bool test() = 0;
  // Until the sum is in the tensor as far as the backend's later work is concerned: blocking
  // for MPI; for NCCL, the reduction is ordered on the compute stream and nothing waits.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string describe() const = 0;  // "MPI (Open MPI v4.1.4)", "NCCL 2.27.7"
  // Overwrites `t` (any dtype) on every rank with rank `root`'s values. Blocking.
  virtual void broadcast(const Tensor& t, int root) = 0;
  // Starts summing the float32 tensor `t` in place across the ranks; `t` must stay alive and
  // untouched until the returned reduction is complete.
  virtual std::unique_ptr<PendingReduce> all_reduce_sum(const Tensor& t) = 0;
};

// The communicator for `backend`: NCCL for a GPU backend in a build with NCCL, MPI otherwise
// (a GPU backend's tensors then travel through host memory). A collective call: every rank
// calls it at the same point. Throws std::runtime_error in a build without MPI.
std::unique_ptr<Communicator> make_communicator(Backend& backend);

}  // namespace nnlab::distributed
