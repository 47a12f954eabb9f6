// The simulator build of kernels/pool.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/pool.cu"
