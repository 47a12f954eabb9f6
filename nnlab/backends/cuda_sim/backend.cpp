// The simulator build of nnlab/backends/cuda/backend.cu: the `cuda-sim` backend.
#include "nnlab/backends/cuda/backend.cu"
