// The simulator build of nnlab/backends/cuda/elementwise.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/elementwise.cu"
