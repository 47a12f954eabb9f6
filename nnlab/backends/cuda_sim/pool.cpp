// The simulator build of nnlab/backends/cuda/pool.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/pool.cu"
