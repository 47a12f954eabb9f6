// The transports behind make_communicator() and the GPU binding of init(), each defined only
// in builds that have its library (nnlab/config.h says which): MPI in mpi_communicator.cpp,
// NCCL and the GPU binding in gpu.cu.
#pragma once
#include <memory>

#include "nnlab/distributed/communicator.h"

namespace nnlab::distributed {

std::unique_ptr<Communicator> make_mpi_communicator(Backend& backend);   // NNLAB_HAVE_MPI
std::unique_ptr<Communicator> make_nccl_communicator(Backend& backend);  // NNLAB_HAVE_NCCL

// Makes GPU (local_rank mod the GPUs here) current for this process before any backend
// creates its stream; returns it, or -1 when this machine has no usable GPU. Defined in
// builds with CUDA and MPI.
int bind_local_gpu(int local_rank);

}  // namespace nnlab::distributed
