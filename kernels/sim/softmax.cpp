// The simulator build of kernels/softmax.cu (compiled as C++ with NNLAB_SIM).
#include "kernels/softmax.cu"
