// The simulator build of nnlab/backends/cuda/norm.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/norm.cu"
