// The two 16-bit floating formats of mixed-precision training, as storage types:
//   Half      IEEE 754 binary16 (fp16): 1 sign, 5 exponent, 10 fraction bits; max 65504,
//             smallest normal 2^-14, smallest subnormal 2^-24; unit roundoff u = 2^-11.
//   BFloat16  bfloat16 (bf16): the top half of an IEEE float: 1 sign, 8 exponent, 7 fraction
//             bits; float's range (max ~3.39e38, subnormals down to 2^-133), u = 2^-8.
// They hold bits and convert; arithmetic happens in float (an expression like a + b converts
// both operands), and the result rounds when it is stored back, as GPUs and PyTorch's CPU
// kernels do. Conversions to them round to nearest, ties to even, with IEEE's rules: overflow
// to infinity, gradual underflow through subnormals, signed zeros, NaN kept NaN (quiet bit
// set, sign and the fraction's top bits kept, as x86's F16C and IEEE convertFormat do).
// Widening to float or double is exact (an fp16 signalling NaN comes back quiet, as F16C
// makes it; a bfloat16 widens by a shift of its bits, as CUDA's __bfloat162float).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nnlab {

namespace float16_detail {

// A binary floating format of 16 bits: kFraction stored fraction bits, kExponent exponent bits.
template <int kFraction, int kExponent>
struct Format {
  static constexpr int fraction = kFraction, exponent = kExponent;
  static constexpr int bias = (1 << (kExponent - 1)) - 1;
  static constexpr uint16_t exponent_mask = uint16_t(((1 << kExponent) - 1) << kFraction);
};
using HalfFormat = Format<10, 5>;
using BFloat16Format = Format<7, 8>;

inline int bit_length(uint64_t v) {
  return v == 0 ? 0 : 64 - __builtin_clzll(v);
}

// Rounds the double `value` to format F, to nearest with ties to even. `residual` is what
// value leaves out of the exact result it stands for (0 when value is exact): when value falls
// exactly halfway between two F numbers, a residual of the same sign rounds away from zero and
// one of the opposite sign towards it (a fused multiply-add computed as value + residual; see
// nnlab/backends/cuda/portable.h). Away from halfway the residual cannot change the result.
template <typename F>
uint16_t round_double(double value, double residual = 0) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  uint16_t sign = uint16_t((bits >> 63) << 15);
  int wide_exponent = int((bits >> 52) & 0x7ff);
  uint64_t fraction = bits & ((uint64_t(1) << 52) - 1);
  if (wide_exponent == 0x7ff) {  // infinity, or NaN: quiet, with the fraction's top bits
    if (fraction == 0) return uint16_t(sign | F::exponent_mask);
    uint16_t payload = uint16_t(fraction >> (52 - F::fraction));
    return uint16_t(sign | F::exponent_mask | payload | (1u << (F::fraction - 1)));
  }
  if (wide_exponent == 0 && fraction == 0) return sign;  // a signed zero
  // value = significand * 2^lsb exactly, with the significand an integer.
  uint64_t significand = wide_exponent ? fraction | (uint64_t(1) << 52) : fraction;
  int lsb = (wide_exponent ? wide_exponent : 1) - 1023 - 52;
  int magnitude = bit_length(significand) - 1 + lsb;  // floor(log2 |value|)
  constexpr int kMinExponent = 1 - F::bias;
  // The spacing of F's numbers around value: 2^quantum (fixed below the normal range).
  int quantum = (magnitude > kMinExponent ? magnitude : kMinExponent) - F::fraction;
  uint64_t n;  // value / 2^quantum rounded: F's significand, with the implicit bit
  int shift = quantum - lsb;
  if (shift <= 0) {
    n = significand << -shift;  // exact: at most F::fraction + 1 bits
  } else {
    uint64_t kept = shift >= 64 ? 0 : significand >> shift;
    uint64_t rest = shift >= 64 ? significand : significand & ((uint64_t(1) << shift) - 1);
    uint64_t half = shift > 64 ? 0 : uint64_t(1) << (shift - 1);  // shift > 64: rest < half
    bool up;
    if (shift > 64 || rest < half)
      up = false;
    else if (rest > half)
      up = true;
    else if (residual != 0)
      up = (residual > 0) == (value > 0);  // the exact result lies beyond the halfway point
    else
      up = (kept & 1) != 0;
    n = kept + (up ? 1 : 0);
  }
  if (n >> (F::fraction + 1)) {  // rounding carried into a new binade
    n >>= 1;
    ++quantum;
  }
  if (n < (uint64_t(1) << F::fraction)) return uint16_t(sign | n);  // subnormal (or zero)
  int biased = quantum + F::fraction + F::bias;
  if (biased >= (1 << F::exponent) - 1) return uint16_t(sign | F::exponent_mask);  // overflow
  return uint16_t(sign | (uint16_t(biased) << F::fraction) | (n & ((1u << F::fraction) - 1)));
}

template <typename F>
double widen(uint16_t bits) {
  int biased = (bits & F::exponent_mask) >> F::fraction;
  uint16_t fraction = bits & ((1u << F::fraction) - 1);
  double magnitude;
  if (biased == (1 << F::exponent) - 1) {
    // Infinity, or NaN: quiet, its fraction at the top of a double's (as F16C widens).
    uint64_t out = (uint64_t(bits >> 15) << 63) | (uint64_t(0x7ff) << 52) |
                   (uint64_t(fraction) << (52 - F::fraction)) |
                   (fraction ? uint64_t(1) << 51 : 0);
    double d;
    std::memcpy(&d, &out, 8);
    return d;
  }
  if (biased == 0)
    magnitude = double(fraction) * __builtin_ldexp(1.0, 1 - F::bias - F::fraction);
  else
    magnitude = double(fraction | (1u << F::fraction)) *
                __builtin_ldexp(1.0, biased - F::bias - F::fraction);
  return (bits & 0x8000) ? -magnitude : magnitude;
}

}  // namespace float16_detail

// Conversions by bit pattern (what the tests and the kernels' portable types use).
inline uint16_t half_bits_from(double v) {
  return float16_detail::round_double<float16_detail::HalfFormat>(v);
}
inline uint16_t bfloat16_bits_from(double v) {
  return float16_detail::round_double<float16_detail::BFloat16Format>(v);
}
// A float widens exactly to double, so rounding from it through double is a single rounding.
inline uint16_t half_bits_from(float v) {
  return half_bits_from(double(v));
}
inline uint16_t bfloat16_bits_from(float v) {
  return bfloat16_bits_from(double(v));
}
inline float half_bits_to_float(uint16_t bits) {
  return float(float16_detail::widen<float16_detail::HalfFormat>(bits));
}
// A bfloat16 is the top half of a float's bits.
inline float bfloat16_bits_to_float(uint16_t bits) {
  uint32_t wide = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &wide, 4);
  return f;
}

struct Half {
  uint16_t bits = 0;
  constexpr Half() = default;
  explicit Half(float v) : bits(half_bits_from(v)) {}
  explicit Half(double v) : bits(half_bits_from(v)) {}
  explicit Half(int v) : Half(double(v)) {}
  operator float() const { return half_bits_to_float(bits); }
  static constexpr Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
};

struct BFloat16 {
  uint16_t bits = 0;
  constexpr BFloat16() = default;
  explicit BFloat16(float v) : bits(bfloat16_bits_from(v)) {}
  explicit BFloat16(double v) : bits(bfloat16_bits_from(v)) {}
  explicit BFloat16(int v) : BFloat16(double(v)) {}
  operator float() const { return bfloat16_bits_to_float(bits); }
  static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
};

// Whole arrays (float16.cpp): the same rounding as the scalar conversions, vectorised where
// the CPU has the instructions (F16C for fp16); the CPU backends' 16-bit paths and the tensor
// casts use them.
void to_float(const Half* in, float* out, size_t n);
void to_float(const BFloat16* in, float* out, size_t n);
void from_float(const float* in, Half* out, size_t n);
void from_float(const float* in, BFloat16* out, size_t n);

}  // namespace nnlab
