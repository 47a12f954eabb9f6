// Winograd's minimal filtering F(2x2, 3x3) for 3x3, stride-1, undilated convolutions (Lavin and
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 2x2 block of outputs
// from a 4x4 block of inputs with 16 multiplications instead of 36, so 2.25x fewer than direct
// convolution, as 16 independent GEMMs (one per element of the transformed 4x4 tile) between
// transforms made only of additions and halvings:
//
//   y = A^T [ (G g G^T) (.) (B^T d B) ] A        (.) elementwise, over channels a sum: a GEMM
//
// The filter gradient is the same bilinear form differentiated: dg = G^T [sum over tiles of
// (A dy A^T) (.) (B^T d B)] G, 16 GEMMs reducing over tiles.
//
// Accuracy: the transforms' coefficients are 0, +-1 and +-1/2 (exact in binary), so the
// rounding is that of a few more additions per output. Measured against float64 sums (normal
// inputs, He-initialised weights, 4 images, outputs up to |y| = 7): rms error 3.7e-7 / 4.9e-7 /
// 6.7e-7 / 6.3e-7 at ResNet-18's 56x56 / 28x28 / 14x14 / 7x7 layers, 0.95-1.8x the direct
// im2col product's (3.6-3.9e-7), and 2.9x at 2x2 images (5.6e-7 vs 2.0e-7); max error 3.9e-6.
// tests/test_parity.cpp holds it to the same tolerance against reference as every convolution.
#pragma once
#include <cstdint>

namespace nnlab::cpu::winograd {

// Whether F(2x2, 3x3) computes this convolution: a 3x3 window, stride 1, no dilation, and
// padding at most 2 (so that its data gradient, a convolution padded by 2 - pad, is one too).
bool applies(int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
             int64_t dilation_h, int64_t dilation_w, int64_t pad_h, int64_t pad_w);

// How forward() reads its filters: w[k, c, 3, 3] (a convolution), or w[c, k, 3, 3] turned by
// 180 degrees (the transposed convolution that is a stride-1 convolution's data gradient).
enum class WeightLayout { Direct, Transposed };

// y[n, k, p, q] = sum over c and the 3x3 window of x[n, c, ...] w[k, c, ...] (+ bias[k]), for
// x [n, c, h, w] padded by (pad_h, pad_w); y has p = h + 2 pad_h - 2 rows, q = w + 2 pad_w - 2
// columns.
template <typename T>
void forward(const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t c, int64_t h,
             int64_t width, int64_t k, int64_t pad_h, int64_t pad_w, WeightLayout layout, int threads);

// dw[k, c, 3, 3] = the filter gradient of forward() for output gradient dy.
template <typename T>
void backward_filter(const T* dy, const T* x, T* dw, int64_t n, int64_t c, int64_t h,
                     int64_t width, int64_t k, int64_t pad_h, int64_t pad_w, int threads);

}  // namespace nnlab::cpu::winograd
