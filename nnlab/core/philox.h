// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Number i of a stream is a pure function of (seed, i), so any
// backend, thread or GPU block computes the same value for the same element: random fills
// agree bit for bit across backends and thread counts. Header-only; usable from kernels.
#pragma once
#include <cmath>
#include <cstdint>

#ifndef NNLAB_HOST_DEVICE
#if defined(__CUDACC__)
#define NNLAB_HOST_DEVICE __host__ __device__
#else
#define NNLAB_HOST_DEVICE
#endif
#endif

namespace nnlab::philox {

struct Uint4 {
  uint32_t x, y, z, w;
};

NNLAB_HOST_DEVICE inline Uint4 philox4x32_10(uint64_t counter, uint64_t seed) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}

// Uniform in [0, 1) with 24 random bits (exact in float and double).
NNLAB_HOST_DEVICE inline double to_unit(uint32_t bits) {
  return double(bits >> 8) * (1.0 / 16777216.0);
}

NNLAB_HOST_DEVICE inline double uniform(uint64_t seed, uint64_t index, double low, double high) {
  return low + (high - low) * to_unit(philox4x32_10(index, seed).x);
}

// Box-Muller from the first two words of the same counter; u1 is in (0, 1] so log is finite.
NNLAB_HOST_DEVICE inline double normal(uint64_t seed, uint64_t index, double mean, double std) {
  Uint4 r = philox4x32_10(index, seed);
  double u1 = to_unit(r.x) + 1.0 / 16777216.0, u2 = to_unit(r.y);
  return mean + std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

}  // namespace nnlab::philox
