// Per-element math of the nn family shared by the CPU kernels and the CUDA backend.
#pragma once
#include <cmath>
#include <cstdint>

#include "runtime/hostdev.h"
#include "runtime/rng.h"

namespace dagrad {

// The Philox seed of a dropout mask at run step `step`: the attribute seed mixed with
// the step times the 64-bit golden ratio, so every training step draws a new mask and
// any backend (and the vjp, which runs in the same step) regenerates it bit for bit.
DAGRAD_HD uint64_t dropout_step_seed(uint64_t seed, uint64_t step) { return seed ^ (step * 0x9E3779B97F4A7C15ull); }

// Element i is kept iff random_uniform(step_seed, i) >= p. random_uniform is k / 2^24
// with k the top 24 random bits, so the test is exactly k >= ceil(p * 2^24) (the
// product is exact in double), an integer compare with no rounding question.
DAGRAD_HD uint32_t dropout_threshold(double p) { return static_cast<uint32_t>(ceil(p * 16777216.0)); }

DAGRAD_HD bool dropout_keep_bits(uint32_t bits, uint32_t threshold) { return (bits >> 8) >= threshold; }

DAGRAD_HD bool dropout_keep(uint64_t step_seed, uint64_t index, uint32_t threshold) {
  return dropout_keep_bits(random_bits(step_seed, index), threshold);
}

}  // namespace dagrad
