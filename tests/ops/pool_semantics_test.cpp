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
  const Value y = max_pool2d(x, {.kernel = 2}), argmax = y.producer().output(1);
  EXPECT_EQ(run1(y, bind), (std::vector<float>{5, 7}));
  // Positions i * kw + j in each window: (0, 0) and (1, 0).
  EXPECT_EQ(interpret(g, {&argmax, 1}, bind)[0].to_vector<uint16_t>(), (std::vector<uint16_t>{0, 2}));
  EXPECT_EQ(run1(max_pool2d_backward(gy, argmax, x.shape(), {.kernel = 2}), bind),
            (std::vector<float>{10, 0, 0, 0, 0, 0, 20, 0}));
  Value src = g.input("src", {1, 1, 2, 4});
  bind["src"] = Tensor::from_vector<float>({1, 1, 2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_EQ(run1(max_pool2d_gather(src, argmax, {.kernel = 2}), bind), (std::vector<float>{0, 6}));
}

// An index that max_pool2d would not give (past the window, or in the padding) selects
// nothing: the gather reads zero and the scatter drops it, instead of reaching outside x.
TEST(MaxPoolSemantics, IndicesOutsideTheWindowSelectNothing) {
  Graph g;
  const Pool2dOptions opt{.kernel = 2, .stride = 1, .padding = 1};
  Value src = g.input("src", {1, 1, 2, 2}), gy = g.input("gy", {1, 1, 3, 3});
  Value argmax = g.input("argmax", {1, 1, 3, 3}, DType::u16);
  // Window (0, 0) covers padding at positions 0-2 and src[0] at 3; 4 is past every window;
  // windows (0, 1), (0, 2) and (1, 0) point into the padding.
  TensorMap bind{{"src", Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4})},
                 {"gy", Tensor::from_vector<float>({1, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 1, 1, 1})},
                 {"argmax", Tensor::from_vector<uint16_t>({1, 1, 3, 3}, {3, 0, 4, 65535, 0, 0, 1, 0, 0})}};
  EXPECT_EQ(run1(max_pool2d_gather(src, argmax, opt), bind), (std::vector<float>{1, 0, 0, 0, 1, 2, 3, 3, 4}));
  EXPECT_EQ(run1(max_pool2d_backward(gy, argmax, src.shape(), opt), bind), (std::vector<float>{2, 1, 2, 1}));
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
