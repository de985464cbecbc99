// Behaviour of max pooling that random reference cases cannot show: ties go to the first
// maximum (forward, backward and gather agree), NaN propagates, padding never wins.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/interpreter.h"
#include "ops/ops.h"

using namespace dagrad;

namespace {

std::vector<float> run1(Value out, const TensorMap& bind) {
  return interpret(*out.graph, {&out, 1}, bind)[0].to_vector<float>();
}

}  // namespace

TEST(MaxPoolSemantics, TiesRouteToTheFirstMaximum) {
  Graph g;
  Value x = g.input("x", {1, 1, 2, 4}), gy = g.input("gy", {1, 1, 1, 2});
  // Window 0 is all 5s; window 1 has its maximum 7 twice, at columns 2 and 3 of row 1.
  TensorMap bind{{"x", Tensor::from_vector<float>({1, 1, 2, 4}, {5, 5, 1, 2, 5, 5, 7, 7})},
                 {"gy", Tensor::from_vector<float>({1, 1, 1, 2}, {10, 20})}};
  EXPECT_EQ(run1(max_pool2d(x, {.kernel = 2}), bind), (std::vector<float>{5, 7}));
  EXPECT_EQ(run1(max_pool2d_backward(gy, x, {.kernel = 2}), bind), (std::vector<float>{10, 0, 0, 0, 0, 0, 20, 0}));
  Value src = g.input("src", {1, 1, 2, 4});
  bind["src"] = Tensor::from_vector<float>({1, 1, 2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_EQ(run1(max_pool2d_gather(src, x, {.kernel = 2}), bind), (std::vector<float>{0, 6}));
}

TEST(MaxPoolSemantics, NanPropagatesAndPaddingNeverWins) {
  Graph g;
  Value x = g.input("x", {1, 1, 2, 2});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  TensorMap bind{{"x", Tensor::from_vector<float>({1, 1, 2, 2}, {-3, nan, -1, -2})}};
  std::vector<float> y = run1(max_pool2d(x, {.kernel = 2}), bind);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_TRUE(std::isnan(y[0]));
  // All-negative input with padding 1: every window's maximum is a real element, not 0.
  bind["x"] = Tensor::from_vector<float>({1, 1, 2, 2}, {-4, -3, -2, -1});
  EXPECT_EQ(run1(max_pool2d(x, {.kernel = 2, .stride = 1, .padding = 1}), bind),
            (std::vector<float>{-4, -3, -3, -2, -1, -1, -2, -1, -1}));
  // Average pooling counts the padding as zeros: the corner window holds one element of four.
  EXPECT_EQ(run1(avg_pool2d(x, {.kernel = 2, .stride = 1, .padding = 1}), bind)[0], -1.0f);
}
