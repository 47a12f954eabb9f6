// The simulator build of nnlab/backends/cuda/reduce.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/reduce.cu"
