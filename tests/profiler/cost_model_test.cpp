// The cost model the profiler reports, against FLOPs counted by hand on concrete shapes.
#include <gtest/gtest.h>

#include "ops/op_def.h"
#include "ops/ops.h"

namespace dagrad {
namespace {

double flops_of(const Value& v) { return v.producer().op->cost_of(v.producer()).flops; }

TEST(CostModel, Conv2dIsTwoMultiplyAddsPerOutputAndWeightPlusBias) {
  Graph g;
  // N=2, C=3, 9x11 input, O=5, 3x2 kernel, stride 2, padding 1: OH = (9+2-3)/2+1 = 5,
  // OW = (11+2-2)/2+1 = 6.
  Value x = g.input("x", Shape{2, 3, 9, 11});
  Value w = g.parameter("w", Shape{5, 3, 3, 2});
  Value b = g.parameter("b", Shape{5});
  Value y = conv2d(x, w, b, {.stride = 2, .padding = 1});
  ASSERT_EQ(y.shape(), (Shape{2, 5, 5, 6}));
  const double n = 2, o = 5, oh = 5, ow = 6, c = 3, kh = 3, kw = 2;
  EXPECT_DOUBLE_EQ(flops_of(y), 2 * n * o * oh * ow * c * kh * kw + n * o * oh * ow);
  Value y_nobias = conv2d(x, w, {}, {.stride = 2, .padding = 1});
  EXPECT_DOUBLE_EQ(flops_of(y_nobias), 2 * n * o * oh * ow * c * kh * kw);
}

TEST(CostModel, Conv2dOfTheMnistCnn) {
  Graph g;
  Value x = g.input("x", Shape{64, 32, 26, 26});
  Value w = g.parameter("w", Shape{64, 32, 3, 3});
  Value b = g.parameter("b", Shape{64});
  Value y = conv2d(x, w, b);
  EXPECT_DOUBLE_EQ(flops_of(y), 2.0 * 64 * 64 * 24 * 24 * 32 * 3 * 3 + 64.0 * 64 * 24 * 24);
}

TEST(CostModel, MatmulIsTwoMNK) {
  Graph g;
  Value a = g.input("a", Shape{7, 5});
  Value b = g.input("b", Shape{5, 3});
  EXPECT_DOUBLE_EQ(flops_of(matmul(a, b)), 2.0 * 7 * 3 * 5);
  Value bt = g.input("bt", Shape{3, 5});
  EXPECT_DOUBLE_EQ(flops_of(matmul(a, bt, false, true)), 2.0 * 7 * 3 * 5);
  Value at = g.input("at", Shape{5, 7});
  EXPECT_DOUBLE_EQ(flops_of(matmul(at, b, true, false)), 2.0 * 7 * 3 * 5);
  Value batched = g.input("batched", Shape{4, 7, 5});
  EXPECT_DOUBLE_EQ(flops_of(matmul(batched, b)), 2.0 * 4 * 7 * 3 * 5);
  // The MNIST CNN's first linear layer: x[64,9216] · W[128,9216]ᵀ.
  Value x = g.input("x", Shape{64, 9216});
  Value w = g.parameter("w", Shape{128, 9216});
  EXPECT_DOUBLE_EQ(flops_of(matmul(x, w, false, true)), 2.0 * 64 * 128 * 9216);
}

}  // namespace
}  // namespace dagrad
