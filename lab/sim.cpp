// The simulator's build of the kernel lab (compiled as C++ with NNLAB_SIM: nnlab::cuda_sim::lab).
#include "lab/reduction.cu"
#include "lab/sgemm.cu"
#include "lab/transpose.cu"
