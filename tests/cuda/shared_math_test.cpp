// The per-element functors the CUDA kernels share with the CPU, called on the host:
// the dropout mask rule (ops/nn_math.h, Philox of runtime/rng.h) and the optimizer
// steps (ops/optim_math.h). ops/elementwise_math.h has its own tests in tests/ops.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_math.h"
#include "ops/optim_math.h"

using namespace dagrad;

// The threshold is exactly ceil(p·2^24), so keep rates are exact for p on the grid.
TEST(SharedMath, DropoutThresholdAndKeepRule) {
  EXPECT_EQ(dropout_threshold(0.0), 0u);
  EXPECT_EQ(dropout_threshold(0.5), 1u << 23);
  EXPECT_EQ(dropout_threshold(0.25), 1u << 22);
  EXPECT_EQ(dropout_threshold(1.0 / 3.0), 5592406u);  // ceil(16777216 / 3)
  EXPECT_TRUE(dropout_keep_bits(0xffffffffu, dropout_threshold(0.999)));
  EXPECT_FALSE(dropout_keep_bits(0x000000ffu, dropout_threshold(0.001)));
  EXPECT_TRUE(dropout_keep_bits(0u, 0u));  // p = 0 keeps everything
}

// The mask is a function of (seed, step, index) only, and about 1 - p of it is kept.
TEST(SharedMath, DropoutMaskDependsOnSeedStepAndIndexOnly) {
  const uint32_t t = dropout_threshold(0.3);
  int kept = 0, same = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const bool k = dropout_keep(dropout_step_seed(7, 3), static_cast<uint64_t>(i), t);
    kept += k;
    EXPECT_EQ(k, dropout_keep(dropout_step_seed(7, 3), static_cast<uint64_t>(i), t));
    same += k == dropout_keep(dropout_step_seed(7, 4), static_cast<uint64_t>(i), t);
  }
  EXPECT_NEAR(kept / static_cast<double>(n), 0.7, 0.01);
  EXPECT_LT(same, n * 0.65);  // another step draws another mask (independent: ~58% agree)
  EXPECT_EQ(dropout_step_seed(7, 0), 7u);
}

// Element i's bits are lane i % 4 of the Philox block i / 4 (what the kernels draw per group).
TEST(SharedMath, RandomBitsAreGroupsOfFourPhiloxLanes) {
  const uint64_t seed = 0x1234567890abcdefull;
  for (uint64_t g : {0ull, 1ull, 12345ull, (1ull << 32) + 5}) {
    const U32x4 r = philox4x32_10(U32x4{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), 0u, 0u}},
                                  static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    for (int j = 0; j < 4; ++j) EXPECT_EQ(random_bits(seed, 4 * g + j), r.v[j]) << g << " lane " << j;
  }
}

TEST(SharedMath, SgdStepIsPyTorchsRule) {
  for (bool nesterov : {false, true}) {
    double p = 1.0, buf = 0.5;
    const double g = 0.2, lr = 0.1, mom = 0.9, wd = 0.01;
    SgdStep<double>{lr, mom, wd, nesterov}(p, g, &buf);
    const double d = g + wd * 1.0, b = mom * 0.5 + d, step = nesterov ? d + mom * b : b;
    EXPECT_DOUBLE_EQ(buf, b);
    EXPECT_DOUBLE_EQ(p, 1.0 - lr * step);
  }
  double p = 2.0;
  SgdStep<double>{0.5, 0, 0, false}(p, 1.0, nullptr);  // plain SGD needs no buffer
  EXPECT_DOUBLE_EQ(p, 1.5);
}

TEST(SharedMath, AdamStepIsPyTorchsRule) {
  for (bool decoupled : {false, true}) {
    double p = 1.0, m = 0.1, v = 0.01;
    const double g = 0.3, lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05, t = 3;
    const double bc1 = 1 - std::pow(b1, t), bc2 = std::sqrt(1 - std::pow(b2, t));
    AdamStep<double>{lr, b1, b2, eps, wd, decoupled, bc1, bc2}(p, g, m, v);
    const double pw = decoupled ? 1.0 * (1 - lr * wd) : 1.0, gw = decoupled ? g : g + wd * 1.0;
    const double mm = b1 * 0.1 + (1 - b1) * gw, vv = b2 * 0.01 + (1 - b2) * gw * gw;
    EXPECT_DOUBLE_EQ(m, mm);
    EXPECT_DOUBLE_EQ(v, vv);
    EXPECT_NEAR(p, pw - (lr / bc1) * mm / (std::sqrt(vv) / bc2 + eps), 1e-15);
  }
}
