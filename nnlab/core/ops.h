// Functional ops: allocate the output on the inputs' backend, check shapes, call the
// backend, and record the backward rule (written with backend primitives, shared by all).
#pragma once
#include <cstdint>

#include "nnlab/core/backend.h"
#include "nnlab/core/random.h"
#include "nnlab/core/tensor.h"

namespace nnlab::ops {

// Linear algebra (ops_linear.cpp).
Tensor matmul(const Tensor& a, const Tensor& b);                   // [n,k] @ [k,m]
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);  // x w^T + b, w [out, in]

// Elementwise (ops_elementwise.cpp); a and b have the same shape.
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, double alpha);
Tensor relu(const Tensor& x);
// x in another floating dtype, rounding to nearest even (x itself when it has it already);
// the gradient goes back in x's dtype, as torch's Tensor.to(dtype).
Tensor cast(const Tensor& x, DType dtype);

// Reductions to one element (ops_reduce.cpp).
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

// Classification (ops_loss.cpp); rows of [n, c], labels int32 [n].
Tensor log_softmax(const Tensor& x);
Tensor nll_loss(const Tensor& logp, const Tensor& labels);  // mean over the batch
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
Tensor argmax(const Tensor& x);  // int32 [n], no gradient

// Convolution and pooling over NCHW (ops_conv.cpp, ops_pool.cpp).
Window2d window(int64_t kernel, int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1);
// {n, channels, p, q} for `win` over x [n, c, h, w]; an error naming `op` when it does not fit.
Shape window_output_shape(const Tensor& x, const Window2d& win, int64_t channels, const char* op);
// x [n, c, h, w], w [k, c, r, s], bias [k] or undefined; the kernel size comes from w.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Window2d win);
Tensor max_pool2d(const Tensor& x, const Window2d& win);
Tensor avg_pool2d(const Tensor& x, const Window2d& win);  // padding counts in the divisor
Tensor global_avg_pool2d(const Tensor& x);                // [n, c, h, w] -> [n, c]

// Batch normalisation of [n, c, h, w] per channel (ops_norm.cpp); updates the running
// statistics in training mode. The per-channel tensors have x's dtype, or float32 when x is
// float16 or bfloat16 (mixed precision's batch norm: statistics in float32, output in x's).
Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum = 0.1, double eps = 1e-5);

// Zeroes each element with probability p and scales the rest by 1 / (1 - p) in training;
// the identity otherwise (ops_elementwise.cpp).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace nnlab::ops
