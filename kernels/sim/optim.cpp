// The simulator build of kernels/optim.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/optim.cu"
