// Direct convolution for few channels (LeNet's 3 -> 6 and 6 -> 16 filters of 5x5), stride 1,
// no dilation. With 6 or 16 filters a GEMM's panels of im2col are packed for a handful of uses
// each, and packing costs more than the products; here the kernels read the rows of a
// zero-padded copy of each image straight into vectors:
//   forward       a register tile of filters x W-wide runs of output columns, one broadcast
//                 weight and one row load per tap (the data gradient is this forward pass over
//                 the output gradient, padded, with the weights turned and transposed);
//   filter grad   a register tile of filters x taps along a kernel row, each lane a partial sum
//                 over output columns, reduced once per chunk of images; chunks are fixed by
//                 the batch size and added in order, so no result depends on the thread count.
#pragma once
#include <cstdint>

namespace nnlab::cpu::direct {

// Whether these kernels apply: stride 1 and no dilation.
bool applies(int64_t stride_h, int64_t stride_w, int64_t dilation_h, int64_t dilation_w);

// How forward() reads its filters: w[k, c, r, s], or w[c, k, r, s] turned by 180 degrees (the
// transposed convolution that is a stride-1 convolution's data gradient).
enum class WeightLayout { Direct, Transposed };

// y[n, k, p, q] = sum over c, r, s of x[n, c, p - pad_h + r, q - pad_w + s] w[k, c, r, s]
// (+ bias[k]), zero outside x; p = h + 2 pad_h - r + 1, q = width + 2 pad_w - s + 1.
template <typename T>
void forward(const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t c, int64_t h,
             int64_t width, int64_t k, int64_t r, int64_t s, int64_t pad_h, int64_t pad_w,
             WeightLayout layout, int threads);

// dw[k, c, r, s] = the filter gradient of forward() for output gradient dy [n, k, p, q].
template <typename T>
void backward_filter(const T* dy, const T* x, T* dw, int64_t n, int64_t c, int64_t h,
                     int64_t width, int64_t k, int64_t r, int64_t s, int64_t pad_h, int64_t pad_w,
                     int threads);

}  // namespace nnlab::cpu::direct
