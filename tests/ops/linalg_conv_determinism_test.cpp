// matmul and conv kernels give bit-identical results for any thread count (their work
// split depends only on the shapes; conv2d_backward_weight sums fixed image groups).
#include <gtest/gtest.h>

#include "op_cases.h"
#include "ops/interpreter.h"
#include "ops/ops.h"

using namespace dagrad;
using namespace dagrad::testing;

TEST(LinalgConvDeterminism, MatmulAnyThreadCount) {
  Graph g;
  Value a = g.input("a", {3, 200, 150}), b = g.input("b", {150, 170});
  TensorMap bind{{"a", random_tensor(a.shape(), DType::f32, 1)}, {"b", random_tensor(b.shape(), DType::f32, 2)}};
  expect_same_for_thread_counts(g, {matmul(a, b), matmul(a, a, true, false)}, bind);
}

namespace {

// conv2d with bias, its two gradients and the poolings of x, on random data: the same
// bits for every thread count.
void expect_conv_same_for_thread_counts(const Shape& xs, const Shape& ws, const Conv2dOptions& opt) {
  Graph g;
  Value x = g.input("x", xs), w = g.input("w", ws), b = g.input("b", {ws[0]});
  Value y = conv2d(x, w, b, opt);
  Value gy = g.input("gy", y.shape());
  TensorMap bind{{"x", random_tensor(x.shape(), DType::f32, 3)},
                 {"w", random_tensor(w.shape(), DType::f32, 4)},
                 {"b", random_tensor(b.shape(), DType::f32, 5)},
                 {"gy", random_tensor(gy.shape(), DType::f32, 6)}};
  expect_same_for_thread_counts(g,
                                {y, conv2d_backward_input(gy, w, x.shape(), opt),
                                 conv2d_backward_weight(gy, x, w.shape(), opt), max_pool2d(x), avg_pool2d(x)},
                                bind);
}

}  // namespace

TEST(LinalgConvDeterminism, ConvAnyThreadCount) {
  expect_conv_same_for_thread_counts({21, 3, 12, 12}, {8, 3, 3, 3}, {.stride = 2, .padding = 1});
}

// 3x3 stride-1 convolutions with 8 or more channels run Winograd's F(4x4, 3x3).
TEST(LinalgConvDeterminism, WinogradConvAnyThreadCount) {
  expect_conv_same_for_thread_counts({21, 9, 10, 11}, {12, 9, 3, 3}, {.stride = 1, .padding = 1});
}
