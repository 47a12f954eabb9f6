// The simulator build of tests/sim_kernels.cu.
#include "tests/sim_kernels.cu"
