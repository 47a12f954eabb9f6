// Array conversions between float and the 16-bit formats: loops the compiler vectorises, and
// x86's F16C instructions for fp16 where the build targets them. Every path rounds exactly as
// the scalar conversions of float16.h (tests/test_float16.cpp compares them on every fp16 value,
// every tie and a sweep of floats).
#include "nnlab/core/float16.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace nnlab {
namespace {
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Exponent rebiasing by one multiplication: a half's exponent and fraction, placed where a
// float keeps its own, read as a float 2^112 times too small (subnormals included), so one
// exact multiplication restores it. Infinity and NaN keep an all-ones exponent (NaN quiet).
float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, magnitude = h & 0x7fffu;
  if (magnitude == 0x7c00u) return float_of(sign | 0x7f800000u);
  if (magnitude > 0x7c00u) return float_of(sign | 0x7fc00000u | (magnitude & 0x3ffu) << 13);  // quiet
  return float_of(sign | bits_of(float_of(magnitude << 13) * 0x1p112f));
}

// Round to nearest even by integer arithmetic on the bits (normal results), by a float
// addition that aligns the value to the subnormal spacing 2^-24 (small results; the FPU
// rounds it to nearest even), infinity past the largest half.
uint16_t float_to_half(float f) {
  uint32_t x = bits_of(f), sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((x >> 13) & 0x3ffu));  // NaN, quiet
  if (x >= 0x47800000u) return uint16_t(sign | 0x7c00u);                     // >= 2^16
  if (x < 0x38800000u) {                                                      // < 2^-14
    float aligned = float_of(x) + 0.5f;  // 0.5's spacing is 2^-24, a half subnormal's
    return uint16_t(sign | (bits_of(aligned) - bits_of(0.5f)));
  }
  uint32_t odd = (x >> 13) & 1u;  // ties go to the even neighbour
  x += (uint32_t(15 - 127) << 23) + 0xfffu + odd;
  return uint16_t(sign | (x >> 13));  // a carry into exponent 31 is infinity, as it should be
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x = bits_of(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // NaN, quiet
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
}  // namespace

void to_float(const Half* in, float* out, size_t n) {
  size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
#endif
  for (; i < n; ++i) out[i] = half_to_float(in[i].bits);
}

void from_float(const float* in, Half* out, size_t n) {
  size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i) out[i].bits = float_to_half(in[i]);
}

void to_float(const BFloat16* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = float_of(uint32_t(in[i].bits) << 16);
}

void from_float(const float* in, BFloat16* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i].bits = float_to_bfloat16(in[i]);
}

}  // namespace nnlab
