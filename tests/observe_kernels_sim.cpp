// The observed simulator build of tests/observe_kernels.cu and tests/sim_kernels.cu (compiled
// with NNLAB_SIM_OBSERVED, into nnlab::cuda_sim_observed).
#include "tests/observe_kernels.cu"
#include "tests/sim_kernels.cu"
