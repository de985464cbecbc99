// Counter-based random numbers (Philox-4x32-10, Salmon et al. 2011). A draw is a pure
// function of (seed, index), so CPU and CUDA kernels produce identical streams and any
// element can be generated independently of the others, in parallel.
#pragma once
#include <cmath>
#include <cstdint>

#include "runtime/hostdev.h"

namespace dagrad {

struct U32x4 {
  uint32_t v[4];
};

DAGRAD_HD U32x4 philox4x32_10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(kM0) * ctr.v[0];
    uint64_t p1 = static_cast<uint64_t>(kM1) * ctr.v[2];
    U32x4 next;
    next.v[0] = static_cast<uint32_t>(p1 >> 32) ^ ctr.v[1] ^ k0;
    next.v[1] = static_cast<uint32_t>(p1);
    next.v[2] = static_cast<uint32_t>(p0 >> 32) ^ ctr.v[3] ^ k1;
    next.v[3] = static_cast<uint32_t>(p0);
    ctr = next;
    k0 += kW0;
    k1 += kW1;
  }
  return ctr;
}

// 32 random bits for element `index` of the stream named by `seed`.
DAGRAD_HD uint32_t random_bits(uint64_t seed, uint64_t index) {
  U32x4 ctr{{static_cast<uint32_t>(index >> 2), static_cast<uint32_t>(index >> 34), 0u, 0u}};
  U32x4 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[index & 3];
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
DAGRAD_HD float random_uniform(uint64_t seed, uint64_t index) {
  return static_cast<float>(random_bits(seed, index) >> 8) * (1.0f / 16777216.0f);
}

// Standard normal by Box-Muller over two consecutive uniforms of a derived stream.
DAGRAD_HD float random_normal(uint64_t seed, uint64_t index) {
  float u1 = (static_cast<float>(random_bits(seed, 2 * index) >> 8) + 1.0f) * (1.0f / 16777217.0f);
  float u2 = random_uniform(seed, 2 * index + 1);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

// A seeded source that hands out disjoint index ranges, so successive fills differ
// but a given seed always gives the same sequence of fills.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  // Reserves n draws; returns the first index.
  uint64_t take(uint64_t n) {
    uint64_t start = offset_;
    offset_ += n;
    return start;
  }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t off) { offset_ = off; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

class Tensor;
// Fill a floating CPU tensor; draws come from gen.take(numel).
void fill_uniform(Tensor& t, Generator& gen, double lo, double hi);
void fill_normal(Tensor& t, Generator& gen, double mean, double stddev);

}  // namespace dagrad
