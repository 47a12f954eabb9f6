// The simulator build of nnlab/backends/cuda/conv.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/conv.cu"
