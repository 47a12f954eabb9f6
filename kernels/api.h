// Host-side entry points of the kernels, declared once for both builds. This file is
// included inside the build's namespace (nnlab::cuda_kernels or nnlab::sim_kernels), so it
// includes nothing itself. Pointers are device memory; sizes are elements.

// gemm.cu: C[m, n] = A[m, k] @ B[k, n], row-major.
void sgemm_naive(const float* a, const float* b, float* c, int m, int n, int k);
void sgemm_tiled(const float* a, const float* b, float* c, int m, int n, int k);

// reduce.cu: out[0] = sum of x[0, n), in two deterministic passes (no atomics); `partials`
// holds at least reduce_partials(n) floats.
int reduce_partials(int n);
void sum(const float* x, int n, float* partials, float* out);

// softmax.cu: y[r, :] = softmax(x[r, :]) for each of `rows` rows of `cols` values.
void softmax_rows(const float* x, float* y, int rows, int cols);

// elementwise.cu: y = alpha * x + y.
void axpy(float alpha, const float* x, float* y, int n);
