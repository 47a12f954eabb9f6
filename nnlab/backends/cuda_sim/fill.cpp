// The simulator build of nnlab/backends/cuda/fill.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/fill.cu"
