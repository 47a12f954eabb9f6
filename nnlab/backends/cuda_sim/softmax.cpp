// The simulator build of nnlab/backends/cuda/softmax.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/softmax.cu"
