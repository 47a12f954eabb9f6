// Functional ops: allocate the output on the inputs' backend, check shapes, call the
// backend, and record the backward rule (written with backend primitives, shared by all).
#pragma once
#include "core/tensor.h"

namespace nnlab::ops {

// Linear algebra (ops_linear.cpp).
Tensor matmul(const Tensor& a, const Tensor& b);                   // [n,k] @ [k,m]
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);  // x w^T + b, w [out, in]

// Elementwise (ops_elementwise.cpp); a and b have the same shape.
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, double alpha);
Tensor relu(const Tensor& x);

// Reductions to one element (ops_reduce.cpp).
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

// Classification (ops_loss.cpp); rows of [n, c], labels int32 [n].
Tensor log_softmax(const Tensor& x);
Tensor nll_loss(const Tensor& logp, const Tensor& labels);  // mean over the batch
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
Tensor argmax(const Tensor& x);  // int32 [n], no gradient

}  // namespace nnlab::ops
