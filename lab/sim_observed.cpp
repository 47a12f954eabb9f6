// The observed simulator build of the kernel lab (NNLAB_SIM_OBSERVED: nnlab::cuda_sim_observed::lab),
// whose memory accesses and basic blocks the simulator counts (nnlab/sim/observe.h).
#include "lab/reduction.cu"
#include "lab/sgemm.cu"
#include "lab/transpose.cu"
