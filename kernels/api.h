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

// elementwise.cu, with the MLP's other per-element ops.
void add(const float* a, const float* b, float* out, int64_t n);
void mul(const float* a, const float* b, float* out, int64_t n);
void scale(const float* x, float alpha, float* out, int64_t n);
void expand_scalar(const float* scalar, float alpha, float* out, int64_t n);  // out[i] = alpha * scalar[0]
void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* dy, const float* y, float* dx, int64_t n);
void bias_add(float* y, const float* bias, int64_t rows, int64_t cols);
void fill(float* x, float value, int64_t n);
void fill_int(int* x, int value, int64_t n);
// Philox counter offset + i for element i: the same numbers as the CPU backends.
void fill_uniform(float* x, int64_t n, double low, double high, uint64_t seed, uint64_t offset);
void fill_normal(float* x, int64_t n, double mean, double std, uint64_t seed, uint64_t offset);

// optim.cu: one fused kernel per parameter tensor, core/update_rules.h's arithmetic.
void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov, bool first_step);
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, double lr, double beta1,
                 double beta2, double eps, double weight_decay, int64_t step);

// gemm.cu: c = alpha * op(a) @ op(b) + beta * c, row-major, op(x) = x or x^T; c is m x n.
// The teaching versions side by side; gemm() uses the vectorised one, which falls back to
// the register-blocked kernel when a dimension is not a multiple of 4 or a pointer unaligned.
enum class GemmVariant { Naive, Tiled, RegisterBlocked, Vectorized };
void gemm_variant(GemmVariant variant, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, const float* b, float beta, float* c);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c);
// Whether Vectorized runs its float4 kernel for these operands (else the register-blocked one).
bool gemm_vectorizable(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                       const float* b, const float* c);

// reduce.cu: out[j] = sum_i x[i, j] over `rows` rows of `cols` (one thread per column).
void sum_dim0(const float* x, int64_t rows, int64_t cols, float* out);

// softmax.cu, row-wise over [rows, cols]; labels are int32 in [0, cols), checked by core/ops.
void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t cols);
void log_softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols);
// out[0] = -mean_i logp[i, labels[i]]; `scratch` holds rows + reduce_partials(rows) floats.
void nll_loss_forward(const float* logp, const int* labels, int64_t rows, int64_t cols, float* scratch, float* out);
void nll_loss_backward(const float* dout, const int* labels, float* dlogp, int64_t rows, int64_t cols);
void cross_entropy_backward(const float* dout, const float* logp, const int* labels, float* dlogits, int64_t rows,
                            int64_t cols);
void argmax(const float* x, int* out, int64_t rows, int64_t cols);


// conv.cu, NCHW, groups 1: im2col + the tiled GEMM per image. Geometry of one convolution:
struct ConvShape {
  int64_t n, c, h, w, k, r, s, p, q;  // batch, in channels, in size, out channels, kernel, out size
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};
// `col` holds c*r*s*p*q floats (one image's unrolled receptive fields).
void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& g, float* col);
void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& g, float* col);
void conv2d_backward_filter(const float* dy, const float* x, float* dw, const ConvShape& g, float* col);
void channel_sum(const float* x, int64_t n, int64_t c, int64_t plane, float* out);  // [n, c, plane] -> [c]

// pool.cu: planes = n * c; windows as Window2d's fields (kernel, stride, padding).
struct PoolShape {
  int64_t planes, h, w, p, q, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};
void max_pool2d_forward(const float* x, float* y, int* indices, const PoolShape& g);
void max_pool2d_backward(const float* dy, const int* indices, float* dx, const PoolShape& g);
void avg_pool2d_forward(const float* x, float* y, const PoolShape& g);
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& g);

// norm.cu: batch norm over (n, plane) per channel.
void batch_norm_forward(const float* x, const float* weight, const float* bias, float* running_mean,
                        float* running_var, bool training, double momentum, double eps, float* y, float* save_mean,
                        float* save_invstd, int64_t n, int64_t c, int64_t plane);
void batch_norm_backward(const float* dy, const float* x, const float* weight, const float* save_mean,
                         const float* save_invstd, bool batch_statistics, float* dx, float* dweight, float* dbias,
                         int64_t n, int64_t c, int64_t plane);

// fill.cu: mask[i] = 0 with probability p, else 1 / (1 - p) (Philox counter offset + i).
void dropout_mask(float* mask, int64_t n, double p, uint64_t seed, uint64_t offset);
