// CUDA's 16-bit float types for the simulator's build of the kernels: __half (cuda_fp16.h)
// and __nv_bfloat16 (cuda_bf16.h), with the intrinsics the kernels use. Each arithmetic
// intrinsic returns the exact result rounded once to nearest even, as the GPU's half
// instructions do, so a kernel's 16-bit results are bit for bit a GPU's:
//   __hadd, __hsub, __hmul  the operands are exact in double and so is their sum or product
//                           (float16: 11-bit significands within 2^-24..2^16; bfloat16: a sum
//                           whose exponents differ by more than 53 bits rounds to the larger
//                           operand either way), so one rounding from double is correct;
//   __hfma                  the product is exact in double; the sum's rounding error, exact
//                           by Knuth's TwoSum, decides the ties double rounding would get wrong
//                           (nnlab/core/float16.h's residual).
// Conversions: __float2half_rn / __float2bfloat16_rn round to nearest even, __half2float /
// __bfloat162float are exact; the paired types __half2 and __nv_bfloat162 (two values in one
// 32-bit word, the elementwise kernels' loads) convert both halves the same way. Operators on the types are left out on purpose: kernels call
// the intrinsics, which read the same under nvcc.
#pragma once
#include <cstdint>

#include "nnlab/core/float16.h"

namespace nnlab::sim {

struct __half {
  uint16_t bits;
};
struct __nv_bfloat16 {
  uint16_t bits;
};
// Two values in one aligned 32-bit word, x at the lower address, as cuda_fp16.h lays them out.
struct alignas(4) __half2 {
  __half x, y;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
struct alignas(8) float2 {
  float x, y;
};

namespace half_detail {
using ::nnlab::float16_detail::BFloat16Format;
using ::nnlab::float16_detail::HalfFormat;
using ::nnlab::float16_detail::round_double;

// s + error == a + b exactly (TwoSum; no branch on the magnitudes).
inline double two_sum(double a, double b, double& error) {
  double s = a + b, bb = s - a;
  error = (a - (s - bb)) + (b - bb);
  return s;
}
}  // namespace half_detail

inline float __half2float(__half h) { return half_bits_to_float(h.bits); }
inline __half __float2half_rn(float f) { return {half_bits_from(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return bfloat16_bits_to_float(h.bits); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return {bfloat16_bits_from(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }

inline float2 __half22float2(__half2 h) { return {__half2float(h.x), __half2float(h.y)}; }
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return {__bfloat162float(h.x), __bfloat162float(h.y)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)};
}

inline __half __hadd(__half a, __half b) {
  return {half_bits_from(double(__half2float(a)) + double(__half2float(b)))};
}
inline __half __hsub(__half a, __half b) {
  return {half_bits_from(double(__half2float(a)) - double(__half2float(b)))};
}
inline __half __hmul(__half a, __half b) {
  return {half_bits_from(double(__half2float(a)) * double(__half2float(b)))};
}
inline __half __hfma(__half a, __half b, __half c) {
  double error, sum = half_detail::two_sum(double(__half2float(a)) * double(__half2float(b)),
                                           double(__half2float(c)), error);
  return {half_detail::round_double<half_detail::HalfFormat>(sum, error)};
}

inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) {
  return {bfloat16_bits_from(double(__bfloat162float(a)) + double(__bfloat162float(b)))};
}
inline __nv_bfloat16 __hsub(__nv_bfloat16 a, __nv_bfloat16 b) {
  return {bfloat16_bits_from(double(__bfloat162float(a)) - double(__bfloat162float(b)))};
}
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) {
  return {bfloat16_bits_from(double(__bfloat162float(a)) * double(__bfloat162float(b)))};
}
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) {
  double error,
      sum = half_detail::two_sum(double(__bfloat162float(a)) * double(__bfloat162float(b)),
                                 double(__bfloat162float(c)), error);
  return {half_detail::round_double<half_detail::BFloat16Format>(sum, error)};
}

}  // namespace nnlab::sim
