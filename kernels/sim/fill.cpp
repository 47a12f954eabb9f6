// The simulator build of kernels/fill.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/fill.cu"
