// The simulator build of nnlab/backends/cuda/gemm.cu (compiled as C++ with NNLAB_SIM).
#include "nnlab/backends/cuda/gemm.cu"
