// The simulator build of nnlab/backends/cuda/optim.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/optim.cu"
