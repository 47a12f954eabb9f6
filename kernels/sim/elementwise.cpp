// The simulator build of kernels/elementwise.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/elementwise.cu"
