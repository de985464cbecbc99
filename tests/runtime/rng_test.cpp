#include <gtest/gtest.h>

#include <cmath>

#include "runtime/rng.h"
#include "runtime/tensor.h"

using namespace dagrad;

TEST(Rng, PhiloxKnownAnswer) {
  // Random123's published known-answer vector for philox4x32-10 with all-zero inputs.
  U32x4 r = philox4x32_10(U32x4{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(Rng, SameSeedSameNumbersDifferentSeedDifferent) {
  Tensor a = Tensor::empty(Shape{1000}), b = Tensor::empty(Shape{1000}), c = Tensor::empty(Shape{1000});
  Generator g1(42), g2(42), g3(43);
  fill_uniform(a, g1, -1, 1);
  fill_uniform(b, g2, -1, 1);
  fill_uniform(c, g3, -1, 1);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  // A second fill from the same generator continues the stream.
  Tensor d = Tensor::empty(Shape{1000});
  fill_uniform(d, g1, -1, 1);
  EXPECT_NE(a.to_vector<float>(), d.to_vector<float>());
}

TEST(Rng, UniformAndNormalMoments) {
  Tensor u = Tensor::empty(Shape{200000}, DType::f64), n = Tensor::empty(Shape{200000}, DType::f64);
  Generator g(7);
  fill_uniform(u, g, 2, 4);
  fill_normal(n, g, 1, 3);
  auto moments = [](const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= v.size();
    for (double x : v) s += (x - m) * (x - m);
    return std::pair{m, std::sqrt(s / v.size())};
  };
  auto uv = u.to_vector<double>();
  for (double x : uv) ASSERT_TRUE(x >= 2 && x < 4);
  auto [um, us] = moments(uv);
  EXPECT_NEAR(um, 3.0, 0.01);
  EXPECT_NEAR(us, 2 / std::sqrt(12.0), 0.01);
  auto [nm, ns] = moments(n.to_vector<double>());
  EXPECT_NEAR(nm, 1.0, 0.03);
  EXPECT_NEAR(ns, 3.0, 0.03);
}

TEST(Rng, ElementDrawIsIndependentOfFillOrder) {
  // Draw i is a pure function of (seed, i): the basis for identical CPU/CUDA masks.
  Tensor t = Tensor::empty(Shape{64});
  Generator g(5);
  fill_uniform(t, g, 0, 1);
  auto v = t.to_vector<float>();
  for (uint64_t i = 0; i < 64; ++i) EXPECT_EQ(v[i], random_uniform(5, i));
}
