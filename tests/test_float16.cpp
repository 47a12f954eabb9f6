// The 16-bit floats (nnlab/core/float16.h): every bit pattern of both formats, ties, the
// limits of the range, NaN, and the array conversions against the scalar ones. The oracle is
// independent of the code under test: the sorted list of every finite value of the format,
// decoded from the definition, and the nearest of them (ties to the even significand).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unistd.h>
#include <vector>

#include "nnlab/backends/registry.h"
#include "nnlab/core/float16.h"
#include "nnlab/core/philox.h"
#include "nnlab/core/safetensors.h"
#include "nnlab/core/tensor.h"

using namespace nnlab;

namespace {
struct Spec {
  int fraction, exponent;
  int bias() const { return (1 << (exponent - 1)) - 1; }
  int max_biased() const { return (1 << exponent) - 1; }
};
constexpr Spec kHalf{10, 5}, kBFloat16{7, 8};

// The value of a bit pattern, straight from the format's definition.
double decode(const Spec& s, uint16_t bits) {
  int biased = (bits >> s.fraction) & s.max_biased();
  int fraction = bits & ((1 << s.fraction) - 1);
  double sign = (bits & 0x8000) ? -1.0 : 1.0;
  if (biased == s.max_biased())
    return fraction ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  if (biased == 0) return sign * std::ldexp(fraction, 1 - s.bias() - s.fraction);
  return sign * std::ldexp(fraction + (1 << s.fraction), biased - s.bias() - s.fraction);
}

// Nearest-even rounding by search over every non-negative finite value, in order.
struct Oracle {
  Spec spec;
  std::vector<std::pair<double, uint16_t>> values;  // ascending, +0 first
  explicit Oracle(Spec s) : spec(s) {
    for (uint32_t b = 0; b < 0x8000; ++b) {
      double v = decode(s, uint16_t(b));
      if (std::isfinite(v)) values.push_back({v, uint16_t(b)});
    }
    std::sort(values.begin(), values.end());
  }
  uint16_t round(double x) const {
    uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    double a = std::fabs(x);
    auto [max_value, max_bits] = values.back();
    double max_ulp = max_value - values[values.size() - 2].first;
    if (a >= max_value + max_ulp / 2) return uint16_t(sign | (spec.max_biased() << spec.fraction));
    auto hi = std::lower_bound(values.begin(), values.end(), std::make_pair(a, uint16_t(0)));
    if (hi->first == a) return uint16_t(sign | hi->second);
    if (hi == values.end()) return uint16_t(sign | max_bits);  // between max and the overflow point
    auto lo = hi - 1;
    double down = a - lo->first, up = hi->first - a;
    bool take_hi = up < down || (up == down && (hi->second & 1) == 0);
    return uint16_t(sign | (take_hi ? hi->second : lo->second));
  }
};

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
bool is_nan_bits(const Spec& s, uint16_t b) {
  return ((b >> s.fraction) & s.max_biased()) == s.max_biased() && (b & ((1 << s.fraction) - 1));
}
}  // namespace

TEST_CASE("float16: every fp16 bit pattern widens exactly and rounds back to itself") {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint16_t bits = uint16_t(b);
    float f = half_bits_to_float(bits);
    double want = decode(kHalf, bits);
    if (is_nan_bits(kHalf, bits)) {
      REQUIRE(std::isnan(f));
      CHECK(std::signbit(f) == bool(bits & 0x8000));
      // NaN comes back NaN, quiet, with its sign and payload (as F16C converts).
      CHECK(half_bits_from(f) == uint16_t(bits | 0x0200));
      CHECK(half_bits_from(double(f)) == uint16_t(bits | 0x0200));
      continue;
    }
    REQUIRE(double(f) == want);
    CHECK(std::signbit(f) == bool(bits & 0x8000));  // -0 stays -0
    REQUIRE(half_bits_from(f) == bits);
    REQUIRE(half_bits_from(double(f)) == bits);
    REQUIRE(Half::from_bits(bits) == f);
  }
}

TEST_CASE("float16: every bfloat16 bit pattern widens exactly and rounds back to itself") {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint16_t bits = uint16_t(b);
    float f = bfloat16_bits_to_float(bits);
    if (is_nan_bits(kBFloat16, bits)) {
      REQUIRE(std::isnan(f));
      CHECK(bfloat16_bits_from(f) == uint16_t(bits | 0x0040));
      continue;
    }
    REQUIRE(double(f) == decode(kBFloat16, bits));
    REQUIRE(bfloat16_bits_from(f) == bits);
    REQUIRE(bfloat16_bits_from(double(f)) == bits);
  }
}

TEST_CASE("float16: ties round to even, for float and double sources") {
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: the even one is 1. 1 + 3 * 2^-11 lies
  // between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
  CHECK(half_bits_from(1.0f + 0x1p-11f) == 0x3c00);
  CHECK(half_bits_from(1.0f + 3 * 0x1p-11f) == 0x3c02);
  CHECK(half_bits_from(1.0 + 0x1p-11) == 0x3c00);
  CHECK(half_bits_from(-(1.0f + 3 * 0x1p-11f)) == 0xbc02);
  // Just above a tie goes up: only an exact tie goes to even.
  CHECK(half_bits_from(std::nextafter(1.0f + 0x1p-11f, 2.0f)) == 0x3c01);
  CHECK(bfloat16_bits_from(1.0f + 0x1p-8f) == 0x3f80);
  CHECK(bfloat16_bits_from(1.0f + 3 * 0x1p-8f) == 0x3f82);
  CHECK(bfloat16_bits_from(std::nextafter(1.0f + 0x1p-8f, 2.0f)) == 0x3f81);
  // Every tie of either format: the midpoint of each pair of neighbours (a float, exactly).
  for (const Spec& spec : {kHalf, kBFloat16}) {
    Oracle oracle(spec);
    for (size_t i = 0; i + 1 < oracle.values.size(); ++i) {
      double mid = (oracle.values[i].first + oracle.values[i + 1].first) / 2;
      uint16_t even = (oracle.values[i].second & 1) == 0 ? oracle.values[i].second : oracle.values[i + 1].second;
      uint16_t got = spec.fraction == 10 ? half_bits_from(float(mid)) : bfloat16_bits_from(float(mid));
      REQUIRE(float(mid) == mid);
      REQUIRE(got == even);
      got = spec.fraction == 10 ? half_bits_from(mid) : bfloat16_bits_from(mid);
      REQUIRE(got == even);
    }
  }
}

TEST_CASE("float16: rounding agrees with the nearest-value oracle across the range") {
  for (const Spec& spec : {kHalf, kBFloat16}) {
    Oracle oracle(spec);
    auto check = [&](float x) {
      uint16_t got = spec.fraction == 10 ? half_bits_from(x) : bfloat16_bits_from(x);
      CAPTURE(x);
      REQUIRE(got == oracle.round(x));
    };
    // Each value, its float neighbours, and the floats around each midpoint.
    for (size_t i = 0; i < oracle.values.size(); ++i) {
      float v = float(oracle.values[i].first);
      for (float x : {v, std::nextafter(v, 0.0f), std::nextafter(v, INFINITY)}) {
        check(x);
        check(-x);
      }
      if (i + 1 < oracle.values.size()) {
        float mid = float((oracle.values[i].first + oracle.values[i + 1].first) / 2);
        check(std::nextafter(mid, 0.0f));
        check(std::nextafter(mid, INFINITY));
      }
    }
    // Random floats: exponents over the whole float range, any fraction.
    for (uint64_t i = 0; i < 200000; ++i) {
      float x = from_bits(philox::philox4x32_10(i, 17).x);
      if (!std::isnan(x)) check(x);
    }
  }
  // The edges of fp16's range: the largest value, the overflow point, the subnormals.
  CHECK(half_bits_from(65504.0f) == 0x7bff);
  CHECK(half_bits_from(65519.99f) == 0x7bff);
  CHECK(half_bits_from(65520.0f) == 0x7c00);  // the tie above 65504 rounds to infinity
  CHECK(half_bits_from(1e10f) == 0x7c00);
  CHECK(half_bits_from(-INFINITY) == 0xfc00);
  CHECK(half_bits_from(0x1p-24f) == 0x0001);
  CHECK(half_bits_from(0x1p-25f) == 0x0000);  // a tie with zero: to even, zero
  CHECK(half_bits_from(std::nextafter(0x1p-25f, 1.0f)) == 0x0001);
  CHECK(half_bits_from(-0.0f) == 0x8000);
  CHECK(bfloat16_bits_from(from_bits(0x7f7fffff)) == 0x7f80);  // float max rounds to infinity
  CHECK(bfloat16_bits_from(from_bits(0x00000001)) == 0x0000);  // the smallest float subnormal
  CHECK(bfloat16_bits_from(from_bits(0x00010000)) == 0x0001);  // bf16's smallest subnormal
}

TEST_CASE("float16: a residual decides only exact ties (fused multiply-add rounding)") {
  using float16_detail::HalfFormat;
  using float16_detail::round_double;
  double tie = 1.0 + 0x1p-11;
  CHECK(round_double<HalfFormat>(tie) == 0x3c00);
  CHECK(round_double<HalfFormat>(tie, 1e-30) == 0x3c01);   // the exact value is above the tie
  CHECK(round_double<HalfFormat>(tie, -1e-30) == 0x3c00);  // below it
  CHECK(round_double<HalfFormat>(-tie, -1e-30) == 0xbc01);
  CHECK(round_double<HalfFormat>(1.0 + 0x1p-12, 1e-30) == 0x3c00);  // not a tie: no effect
}

TEST_CASE("float16: array conversions round exactly as the scalar ones") {
  std::vector<float> in;
  for (uint32_t b = 0; b < 0x10000; ++b) {
    in.push_back(half_bits_to_float(uint16_t(b)));
    in.push_back(bfloat16_bits_to_float(uint16_t(b)));
    in.push_back(from_bits(b << 12 | b >> 4));  // the bits between the formats' fractions
  }
  for (uint64_t i = 0; i < 100000; ++i) in.push_back(from_bits(philox::philox4x32_10(i, 5).x));
  for (uint32_t b = 0x7f800001; b < 0x7f800001 + 64; ++b) in.push_back(from_bits(b));  // NaNs
  std::vector<Half> halves(in.size());
  std::vector<BFloat16> bf(in.size());
  from_float(in.data(), halves.data(), in.size());
  from_float(in.data(), bf.data(), in.size());
  std::vector<float> back(in.size()), back_bf(in.size());
  to_float(halves.data(), back.data(), in.size());
  to_float(bf.data(), back_bf.data(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CAPTURE(i);
    CAPTURE(float_bits(in[i]));
    REQUIRE(halves[i].bits == half_bits_from(in[i]));
    REQUIRE(bf[i].bits == bfloat16_bits_from(in[i]));
    REQUIRE(float_bits(back[i]) == float_bits(half_bits_to_float(halves[i].bits)));
    REQUIRE(float_bits(back_bf[i]) == float_bits(bfloat16_bits_to_float(bf[i].bits)));
    // One element at a time: the portable path that vector loops leave for their tails.
    Half one;
    float widened = 0;
    from_float(&in[i], &one, 1);
    REQUIRE(one.bits == halves[i].bits);
    to_float(&one, &widened, 1);
    REQUIRE(float_bits(widened) == float_bits(back[i]));
  }
}

TEST_CASE("float16: tensors hold, print and save both formats") {
  Backend& be = get_backend("cpu");
  std::vector<Half> h = {Half(1.0f), Half(0.5f), Half(-2.0f), Half(65504.0f)};
  Tensor t = Tensor::from_host(h, Shape{2, 2}, be);
  CHECK(t.dtype() == DType::F16);
  CHECK(t.bytes() == 8);
  CHECK(t.str() == "Tensor[2, 2] float16 cpu {1, 0.5, -2, 65504}");
  CHECK(t.to_host_doubles() == std::vector<double>{1, 0.5, -2, 65504});
  CHECK_THROWS_AS(t.to_host<float>(), std::logic_error);
  std::vector<BFloat16> b = {BFloat16(3.0f), BFloat16(-0.0078125f), BFloat16(1e30f)};
  Tensor u = Tensor::from_host(b, Shape{3}, be);
  CHECK(u.str(2) == "Tensor[3] bfloat16 cpu {3, -0.0078125, ... (3 elements)}");
  CHECK(u.reshape(Shape{3, 1}).to_host_doubles()[2] == double(bfloat16_bits_to_float(b[2].bits)));
  // safetensors' F16 and BF16 entries, written and read back bit for bit.
  std::string path = (std::filesystem::temp_directory_path() /
                      ("nnlab_float16_" + std::to_string(::getpid()) + ".safetensors")).string();
  save_safetensors(path, {{"h", t}, {"b", u}});
  SafetensorsFile file = load_safetensors(path, get_backend("reference"));
  std::filesystem::remove(path);
  REQUIRE(file.tensors.at("h").dtype() == DType::F16);
  REQUIRE(file.tensors.at("b").dtype() == DType::BF16);
  CHECK(file.tensors.at("h").shape() == Shape{2, 2});
  std::vector<Half> h_back = file.tensors.at("h").to_host<Half>();
  std::vector<BFloat16> b_back = file.tensors.at("b").to_host<BFloat16>();
  for (size_t i = 0; i < h.size(); ++i) CHECK(h_back[i].bits == h[i].bits);
  for (size_t i = 0; i < b.size(); ++i) CHECK(b_back[i].bits == b[i].bits);
}
