// The widest vector registers the build's -march offers, for the hand-written GEMM and
// convolution kernels: AVX-512 (32 registers of 16 floats), AVX2 + FMA (16 of 8) or the SSE2
// every x86-64 has (16 of 4, multiply then add), and plain scalars elsewhere. The choice is
// made at compile time: the build is per machine (-march=native), and -DNNLAB_HOST_ARCH=
// gives a portable binary. Results depend on it (a fused multiply-add rounds once), never on
// the thread count.
#pragma once
#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace nnlab::cpu::simd {

template <typename T>
struct Vec;

#if defined(__AVX512F__)
constexpr const char* kIsa = "AVX-512";
constexpr int kRegisters = 32;
template <>
struct Vec<float> {
  using V = __m512;
  static constexpr int kWidth = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V broadcast(float x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c
  static void store_first(float* p, V v, int n) { _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), v); }
  static V gather(const float* p, int stride) {  // p[j * stride] for each lane j
    return _mm512_i32gather_ps(_mm512_mullo_epi32(_mm512_set1_epi32(stride), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)), p, 4);
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  // For the 2x2 max pool (float only): lanes 0, 1, ..., W - 1; p[0, 2W) split into its even
  // and odd elements; lanes where x > than or x is NaN; a select; whole-number lanes as int32.
  using Mask = __mmask16;
  static V lanes() { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static void load_pairs(const float* p, V& even, V& odd) {
    const V a = load(p), b = load(p + 16);
    even = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
    odd = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
  }
  static Mask larger_or_nan(V x, V than) {
    return _mm512_cmp_ps_mask(x, than, _CMP_GT_OQ) | _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  }
  static V select(Mask m, V if_set, V if_clear) { return _mm512_mask_blend_ps(m, if_clear, if_set); }
  static void store_int32(int32_t* p, V v) { _mm512_storeu_si512(p, _mm512_cvttps_epi32(v)); }
  static void store_first_int32(int32_t* p, V v, int n) {
    _mm512_mask_storeu_epi32(p, __mmask16((1u << n) - 1), _mm512_cvttps_epi32(v));
  }
};
template <>
struct Vec<double> {
  using V = __m512d;
  static constexpr int kWidth = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V broadcast(double x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static void store_first(double* p, V v, int n) { _mm512_mask_storeu_pd(p, __mmask8((1u << n) - 1), v); }
  static V gather(const double* p, int stride) {
    return _mm512_i32gather_pd(_mm256_mullo_epi32(_mm256_set1_epi32(stride), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), p, 8);
  }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
};
#elif defined(__AVX__)
#if defined(__FMA__)
constexpr const char* kIsa = "AVX2 + FMA";
#else
constexpr const char* kIsa = "AVX";
#endif
constexpr int kRegisters = 16;
template <>
struct Vec<float> {
  using V = __m256;
  static constexpr int kWidth = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V broadcast(float x) { return _mm256_set1_ps(x); }
  static void store_first(float* p, V v, int n) {
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_castps_si256(_mm256_cmp_ps(lane, _mm256_set1_ps(float(n)), _CMP_LT_OQ)), v);
  }
  static V gather(const float* p, int stride) {
#if defined(__AVX2__)
    return _mm256_i32gather_ps(p, _mm256_mullo_epi32(_mm256_set1_epi32(stride), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), 4);
#else
    return _mm256_setr_ps(p[0], p[stride], p[2 * stride], p[3 * stride], p[4 * stride], p[5 * stride],
                          p[6 * stride], p[7 * stride]);
#endif
  }
#if defined(__FMA__)
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
#else
  static V fma(V a, V b, V c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }
#endif
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // For the 2x2 max pool (float only; see the AVX-512 Vec<float>).
  using Mask = __m256;
  static V lanes() { return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7); }
  static void load_pairs(const float* p, V& even, V& odd) {
    const V a = load(p), b = load(p + 8);
    // low halves (a0-3, b0-3) and high halves (a4-7, b4-7): a shuffle per 128-bit lane then
    // picks a0 a2 a4 a6 | b0 b2 b4 b6 (AVX without AVX2 has no cross-lane permute of floats)
    const V low = _mm256_permute2f128_ps(a, b, 0x20), high = _mm256_permute2f128_ps(a, b, 0x31);
    even = _mm256_shuffle_ps(low, high, _MM_SHUFFLE(2, 0, 2, 0));
    odd = _mm256_shuffle_ps(low, high, _MM_SHUFFLE(3, 1, 3, 1));
  }
  static Mask larger_or_nan(V x, V than) {
    return _mm256_or_ps(_mm256_cmp_ps(x, than, _CMP_GT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  static V select(Mask m, V if_set, V if_clear) { return _mm256_blendv_ps(if_clear, if_set, m); }
  static void store_int32(int32_t* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_cvttps_epi32(v));
  }
  static void store_first_int32(int32_t* p, V v, int n) {
    alignas(32) int32_t lanes[8];
    store_int32(lanes, v);
    for (int i = 0; i < n; ++i) p[i] = lanes[i];
  }
};
template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int kWidth = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V broadcast(double x) { return _mm256_set1_pd(x); }
  static void store_first(double* p, V v, int n) {
    const __m256d lane = _mm256_setr_pd(0, 1, 2, 3);
    _mm256_maskstore_pd(p, _mm256_castpd_si256(_mm256_cmp_pd(lane, _mm256_set1_pd(double(n)), _CMP_LT_OQ)), v);
  }
  static V gather(const double* p, int stride) {
#if defined(__AVX2__)
    // The masked form: GCC 12 warns that the unmasked one's undefined source may be used.
    return _mm256_mask_i32gather_pd(_mm256_setzero_pd(), p, _mm_mullo_epi32(_mm_set1_epi32(stride), _mm_setr_epi32(0, 1, 2, 3)),
                                    _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), 8);
#else
    return _mm256_setr_pd(p[0], p[stride], p[2 * stride], p[3 * stride]);
#endif
  }
#if defined(__FMA__)
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
#else
  static V fma(V a, V b, V c) { return _mm256_add_pd(_mm256_mul_pd(a, b), c); }
#endif
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
};
#elif defined(__SSE2__)
constexpr const char* kIsa = "SSE2";
constexpr int kRegisters = 16;
template <>
struct Vec<float> {
  using V = __m128;
  static constexpr int kWidth = 4;
  static V zero() { return _mm_setzero_ps(); }
  static V load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, V v) { _mm_storeu_ps(p, v); }
  static V broadcast(float x) { return _mm_set1_ps(x); }
  static void store_first(float* p, V v, int n) {
    alignas(16) float lanes[4];
    _mm_store_ps(lanes, v);
    for (int i = 0; i < n; ++i) p[i] = lanes[i];
  }
  static V gather(const float* p, int stride) { return _mm_setr_ps(p[0], p[stride], p[2 * stride], p[3 * stride]); }
  static V fma(V a, V b, V c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static V add(V a, V b) { return _mm_add_ps(a, b); }
  static V sub(V a, V b) { return _mm_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm_mul_ps(a, b); }
  // For the 2x2 max pool (float only; see the AVX-512 Vec<float>).
  using Mask = __m128;
  static V lanes() { return _mm_setr_ps(0, 1, 2, 3); }
  static void load_pairs(const float* p, V& even, V& odd) {
    const V a = load(p), b = load(p + 4);
    even = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    odd = _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  }
  static Mask larger_or_nan(V x, V than) { return _mm_or_ps(_mm_cmpgt_ps(x, than), _mm_cmpunord_ps(x, x)); }
  static V select(Mask m, V if_set, V if_clear) {  // SSE2 has no blend
    return _mm_or_ps(_mm_and_ps(m, if_set), _mm_andnot_ps(m, if_clear));
  }
  static void store_int32(int32_t* p, V v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_cvttps_epi32(v)); }
  static void store_first_int32(int32_t* p, V v, int n) {
    alignas(16) int32_t lanes[4];
    store_int32(lanes, v);
    for (int i = 0; i < n; ++i) p[i] = lanes[i];
  }
};
template <>
struct Vec<double> {
  using V = __m128d;
  static constexpr int kWidth = 2;
  static V zero() { return _mm_setzero_pd(); }
  static V load(const double* p) { return _mm_loadu_pd(p); }
  static void store(double* p, V v) { _mm_storeu_pd(p, v); }
  static V broadcast(double x) { return _mm_set1_pd(x); }
  static void store_first(double* p, V v, int n) {
    if (n > 0) _mm_storel_pd(p, v);
  }
  static V gather(const double* p, int stride) { return _mm_setr_pd(p[0], p[stride]); }
  static V fma(V a, V b, V c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
  static V add(V a, V b) { return _mm_add_pd(a, b); }
  static V sub(V a, V b) { return _mm_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm_mul_pd(a, b); }
};
#else
constexpr const char* kIsa = "scalar";
constexpr int kRegisters = 16;
template <typename T>
struct Vec {
  using V = T;
  static constexpr int kWidth = 1;
  static V zero() { return T(0); }
  static V load(const T* p) { return *p; }
  static void store(T* p, V v) { *p = v; }
  static V broadcast(T x) { return x; }
  static void store_first(T* p, V v, int n) {
    if (n > 0) *p = v;
  }
  static V gather(const T* p, int /*stride*/) { return *p; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  // For the 2x2 max pool (see the AVX-512 Vec<float>).
  using Mask = bool;
  static V lanes() { return T(0); }
  static void load_pairs(const T* p, V& even, V& odd) { even = p[0], odd = p[1]; }
  static Mask larger_or_nan(V x, V than) { return x > than || x != x; }
  static V select(Mask m, V if_set, V if_clear) { return m ? if_set : if_clear; }
  static void store_int32(int32_t* p, V v) { *p = int32_t(v); }
  static void store_first_int32(int32_t* p, V v, int n) {
    if (n > 0) *p = int32_t(v);
  }
};
#endif

// Keeps a loaded vector in a register for all of its uses. GCC folds a load into each FMA that
// reads it (a memory operand), so a vector that KB FMAs share is loaded KB times; where those
// loads are unaligned and straddle cache lines, the loads and not the FMAs then bound the loop
// (LeNet's conv1 filter gradient on AVX2: 12 loads, half of them split, per 10 FMAs).
template <typename V>
inline void keep_in_register(V& v) {
#if defined(__GNUC__) && defined(__AVX512F__)
  asm("" : "+v"(v));  // an empty instruction that needs v in a vector register (any of 32)
#elif defined(__GNUC__) && defined(__SSE2__)
  asm("" : "+x"(v));  // the same, among the 16 that SSE and AVX name
#else
  (void)v;
#endif
}

// dst[0, n) = src[0, n) for short runs, in vectors: a plain loop becomes a memmove call,
// which for runs of 1-16 values cost more than the copy (Winograd's transforms at 64x64). src
// must be readable to the next whole vector past n.
template <typename T>
inline void copy_short(const T* src, int64_t n, T* dst) {
  using S = Vec<T>;
  int64_t i = 0;
  for (; i + S::kWidth <= n; i += S::kWidth) S::store(dst + i, S::load(src + i));
  if (i < n) S::store_first(dst + i, S::load(src + i), int(n - i));
}

}  // namespace nnlab::cpu::simd
