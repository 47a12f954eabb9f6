// The simulator build of kernels/conv.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/conv.cu"
