// The simulator build of kernels/gemm.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/gemm.cu"
