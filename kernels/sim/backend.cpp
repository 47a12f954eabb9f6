// The simulator build of kernels/backend.cu: the `cuda-sim` backend.
#include "kernels/backend.cu"
