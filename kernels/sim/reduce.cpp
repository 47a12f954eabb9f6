// The simulator build of kernels/reduce.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/reduce.cu"
