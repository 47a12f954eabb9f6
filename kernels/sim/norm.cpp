// The simulator build of kernels/norm.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/norm.cu"
