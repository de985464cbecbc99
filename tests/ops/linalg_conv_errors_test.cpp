// Shape-inference errors of matmul, convolution and pooling: each names the op, the
// offending shapes or attribute values, and what would make them valid.
#include <gtest/gtest.h>

#include <string>

#include "ops/ops.h"
#include "ops/registry.h"
#include "tests/error_of.h"

using namespace dagrad;

namespace {

using dagrad::testing::expect_error;

Attrs hw(const char* name, int64_t h, int64_t w) { return Attrs{{name, std::vector<int64_t>{h, w}}}; }

}  // namespace

// ---- matmul ----

TEST(LinalgErrors, InnerDimensionsDiffer) {
  Graph g;
  Value a = g.input("a", {2, 3}), b = g.input("b", {4, 5});
  expect_error<ShapeError>([&] { matmul(a, b); },
                           "[matmul] inner dimensions differ: a is [2,3] (K=3), b is [4,5] (K=4)");
}

TEST(LinalgErrors, InnerDimensionsNameTransposes) {
  Graph g;
  Value a = g.input("a", {3, 2}), b = g.input("b", {5, 4});
  expect_error<ShapeError>([&] { matmul(a, b, true, true); },
                           "[matmul] inner dimensions differ: a is [3,2] (trans_a, K=3), b is [5,4] (trans_b, K=4)");
}

TEST(LinalgErrors, BatchDimensionsDiffer) {
  Graph g;
  Value a = g.input("a", {2, 3, 4}), b = g.input("b", {3, 4, 5}), a2 = g.input("a2", {3, 4});
  expect_error<ShapeError>([&] { matmul(a, b); },
                           "[matmul] batch dimensions differ: a is [2,3,4], b is [3,4,5]; they must be equal, or b "
                           "must be 2-D (shared across the batch)");
  expect_error<ShapeError>([&] { matmul(a2, b); }, "[matmul] batch dimensions differ: a is [3,4], b is [3,4,5]");
}

TEST(LinalgErrors, VectorsNeedReshaping) {
  Graph g;
  Value a = g.input("a", {3}), b = g.input("b", {3, 2});
  expect_error<ShapeError>([&] { matmul(a, b); },
                           "[matmul] needs matrices of at least 2 dimensions: a is [3], b is [3,2]; reshape a vector");
}

TEST(LinalgErrors, DtypesMustAgreeAndFloat) {
  Graph g;
  Value a = g.input("a", {2, 3}), b = g.input("b", {3, 2}, DType::f64), i = g.input("i", {3, 2}, DType::i64);
  expect_error<TypeError>([&] { matmul(a, b); }, "[matmul] input 1 is float64 but input 0 is float32");
  expect_error<TypeError>([&] { matmul(a, i); }, "[matmul] input 1 must be a floating-point dtype, got int64");
}

TEST(LinalgBuilders, LinearIsMatmulWithTransposedWeightPlusBias) {
  Graph g;
  Value x = g.input("x", {4, 3}), w = g.input("w", {5, 3});
  Value y = linear(x, w);
  EXPECT_EQ(y.shape(), Shape({4, 5}));
  EXPECT_EQ(y.producer().op_name(), "matmul");
  EXPECT_TRUE(y.producer().attrs.get_bool("trans_b"));
  if (!OpRegistry::instance().find("add")) GTEST_SKIP() << "add is not registered yet";
  Value yb = linear(x, w, g.input("b", {5}));
  EXPECT_EQ(yb.shape(), Shape({4, 5}));
  EXPECT_EQ(yb.producer().op_name(), "add");
}

// ---- conv2d and its backward ops ----

TEST(ConvErrors, ChannelMismatch) {
  Graph g;
  Value x = g.input("x", {64, 3, 28, 28}), w = g.input("w", {32, 1, 3, 3});
  expect_error<ShapeError>(
      [&] { conv2d(x, w); },
      "[conv2d] input has 3 channels but weight expects 1 (input [64,3,28,28], weight [32,1,3,3])");
}

TEST(ConvErrors, EmptyOutput) {
  Graph g;
  Value x = g.input("x", {1, 1, 2, 2}), w = g.input("w", {1, 1, 3, 3});
  expect_error<ShapeError>([&] { conv2d(x, w); },
                           "[conv2d] output would be empty: input 2x2 with kernel 3x3, padding 0, dilation 1");
  Value x5 = g.input("x5", {1, 1, 5, 5});
  expect_error<ShapeError>([&] { conv2d(x5, w, {}, {.dilation = 3}); },
                           "[conv2d] output would be empty: input 5x5 with kernel 3x3, padding 0, dilation 3");
  expect_error<ShapeError>([&] { conv2d(x, w, {}, {.padding = Hw(1, 0)}); },
                           "[conv2d] output would be empty: input 2x2 with kernel 3x3, padding 1x0, dilation 1");
  EXPECT_EQ(conv2d(x, w, {}, {.padding = 1}).shape(), Shape({1, 1, 2, 2}));
}

TEST(ConvErrors, BadAttributes) {
  Graph g;
  Value x = g.input("x", {1, 1, 5, 5}), w = g.input("w", {1, 1, 3, 3});
  expect_error<ShapeError>([&] { conv2d(x, w, {}, {.stride = Hw(0, 1)}); },
                           "[conv2d] stride must be positive, got [0,1]");
  expect_error<ShapeError>([&] { conv2d(x, w, {}, {.padding = Hw(-1, 0)}); },
                           "[conv2d] padding must be non-negative, got [-1,0]");
  expect_error<ShapeError>([&] { conv2d(x, w, {}, {.dilation = 0}); }, "[conv2d] dilation must be positive, got [0,0]");
  expect_error<ShapeError>(
      [&] {
        g.add_node("conv2d", {x, w}, Attrs{{"stride", std::vector<int64_t>{1, 1, 1}}});
      },
      "[conv2d] stride must have 2 values (height, width), got [1,1,1]");
  expect_error<ValueError>(
      [&] {
        g.add_node("conv2d", {x, w}, hw("strides", 1, 1));
      },
      "[conv2d] unknown attribute 'strides'");
}

TEST(ConvErrors, Ranks) {
  Graph g;
  Value x3 = g.input("x3", {3, 28, 28}), x = g.input("x", {2, 3, 28, 28});
  Value w = g.input("w", {8, 3, 3, 3}), w3 = g.input("w3", {8, 3, 3});
  expect_error<ShapeError>([&] { conv2d(x3, w); }, "[conv2d] input must be 4-D [N,C,H,W], got [3,28,28]");
  expect_error<ShapeError>([&] { conv2d(x, w3); }, "[conv2d] weight must be 4-D [O,C,KH,KW], got [8,3,3]");
}

TEST(ConvErrors, BiasAndInputCount) {
  Graph g;
  Value x = g.input("x", {2, 3, 8, 8}), w = g.input("w", {32, 3, 3, 3}), b = g.input("b", {16});
  expect_error<ShapeError>([&] { conv2d(x, w, b); },
                           "[conv2d] bias must be [32] (one value per output channel), got [16]");
  expect_error<ShapeError>([&] { g.add_node("conv2d", {x}); },
                           "[conv2d] expects 2 or 3 inputs (x, weight[, bias]), got 1");
  Value wi = g.input("wi", {32, 3, 3, 3}, DType::i32);
  expect_error<TypeError>([&] { conv2d(x, wi); }, "[conv2d] input 1 must be a floating-point dtype, got int32");
}

TEST(ConvErrors, BackwardShapesMustMatchForward) {
  Graph g;
  Value gy = g.input("gy", {2, 4, 4, 4}), w = g.input("w", {4, 3, 3, 3}), x = g.input("x", {2, 3, 7, 7});
  expect_error<ShapeError>(
      [&] {
        conv2d_backward_input(gy, w, Shape{2, 3, 7, 7}, {});
      },
      "[conv2d_backward_input] grad_y is [2,4,4,4] but conv2d of x_shape [2,3,7,7] with weight "
      "[4,3,3,3] gives [2,4,5,5]");
  expect_error<ShapeError>(
      [&] {
        conv2d_backward_input(gy, w, Shape{3, 7, 7}, {});
      },
      "[conv2d_backward_input] x_shape must be 4-D [N,C,H,W], got [3,7,7]");
  expect_error<ShapeError>(
      [&] {
        conv2d_backward_weight(gy, x, Shape{4, 3, 3, 3}, {});
      },
      "[conv2d_backward_weight] grad_y is [2,4,4,4] but conv2d of x [2,3,7,7] with w_shape "
      "[4,3,3,3] gives [2,4,5,5]");
  expect_error<ShapeError>(
      [&] {
        conv2d_backward_weight(gy, x, Shape{4, 2, 3, 3}, {});
      },
      "[conv2d_backward_weight] x has 3 channels but w_shape expects 2");
  expect_error<ShapeError>(
      [&] {
        g.add_node("conv2d_backward_input", {gy, w}, Attrs{{"x_shape", std::vector<int64_t>{2, -3, 7, 7}}});
      },
      "[conv2d_backward_input] x_shape has a negative dimension: [2,-3,7,7]");
  EXPECT_EQ(conv2d_backward_input(gy, w, Shape{2, 3, 6, 6}, {}).shape(), Shape({2, 3, 6, 6}));
  EXPECT_EQ(conv2d_backward_weight(gy, g.input("x6", {2, 3, 6, 6}), Shape{4, 3, 3, 3}, {}).shape(),
            Shape({4, 3, 3, 3}));
}

// ---- pooling ----

TEST(PoolErrors, PaddingAtMostHalfTheKernel) {
  Graph g;
  Value x = g.input("x", {1, 1, 8, 8});
  expect_error<ShapeError>([&] { max_pool2d(x, {.kernel = 3, .stride = 1, .padding = 2}); },
                           "[max_pool2d] padding [2,2] must be at most half the kernel [3,3]");
  expect_error<ShapeError>([&] { avg_pool2d(x, {.kernel = Hw(2, 4), .padding = Hw(0, 3)}); },
                           "[avg_pool2d] padding [0,3] must be at most half the kernel [2,4]");
}

TEST(PoolErrors, EmptyOutputAndBadValues) {
  Graph g;
  Value x = g.input("x", {1, 1, 2, 2}), x3 = g.input("x3", {1, 2, 2});
  expect_error<ShapeError>([&] { max_pool2d(x, {.kernel = 3}); },
                           "[max_pool2d] output would be empty: input 2x2 with kernel 3x3, padding 0");
  expect_error<ShapeError>([&] { max_pool2d(x, {.kernel = Hw(0, 2)}); },
                           "[max_pool2d] kernel must be positive, got [0,2]");
  expect_error<ShapeError>(
      [&] {
        g.add_node("avg_pool2d", {x}, hw("kernel", 2, 2).set("stride", std::vector<int64_t>{0, 0}));
      },
      "[avg_pool2d] stride must be positive, got [0,0]");
  expect_error<ShapeError>([&] { avg_pool2d(x3); }, "[avg_pool2d] input must be 4-D [N,C,H,W], got [1,2,2]");
  expect_error<ValueError>([&] { g.add_node("max_pool2d", {x}); }, "[max_pool2d] missing required attribute 'kernel'");
}

TEST(PoolErrors, BackwardShapesMustMatchForward) {
  Graph g;
  Value x = g.input("x", {2, 3, 8, 8}), gy = g.input("gy", {2, 3, 3, 3});
  const Value argmax = max_pool2d(x, {.kernel = 2}).producer().output(1);
  const Value gy4 = g.input("gy4", {2, 3, 4, 4});
  expect_error<ShapeError>([&] { max_pool2d_backward(gy, argmax, x.shape(), {.kernel = 2}); },
                           "[max_pool2d_backward] grad_y is [2,3,3,3] but pooling x_shape [2,3,8,8] gives [2,3,4,4]");
  expect_error<ShapeError>([&] { max_pool2d_backward(gy4, argmax, x.shape(), {.kernel = 3, .stride = 2}); },
                           "[max_pool2d_backward] grad_y is [2,3,4,4] but pooling x_shape [2,3,8,8] gives [2,3,3,3]");
  expect_error<TypeError>([&] { max_pool2d_backward(gy4, gy4, x.shape(), {.kernel = 2}); },
                          "[max_pool2d_backward] argmax must be max_pool2d's uint16 index output, got float32");
  expect_error<ShapeError>(
      [&] {
        max_pool2d(g.input("big", {1, 1, 300, 300}), {.kernel = 257});
      },
      "[max_pool2d] kernel 257x257 has 66049 positions; max pooling records each window's "
      "argmax in uint16, which holds at most 65536");
  expect_error<ShapeError>(
      [&] {
        avg_pool2d_backward(gy, Shape{2, 3, 8, 8}, {});
      },
      "[avg_pool2d_backward] grad_y is [2,3,3,3] but pooling x_shape [2,3,8,8] gives [2,3,4,4]");
  expect_error<ShapeError>([&] { max_pool2d_gather(gy, argmax, {.kernel = 2}); },
                           "[max_pool2d_gather] argmax is [2,3,4,4] but pooling source [2,3,3,3] gives [2,3,1,1]");
}

TEST(PoolBuilders, StrideZeroMeansKernel) {
  Graph g;
  Value x = g.input("x", {2, 3, 9, 8});
  Value y = max_pool2d(x, {.kernel = Hw(3, 2)});
  EXPECT_EQ(y.shape(), Shape({2, 3, 3, 4}));
  EXPECT_EQ(y.producer().attrs.get_ints("stride"), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(avg_pool2d(x, {.kernel = 3, .stride = 1, .padding = 1}).shape(), Shape({2, 3, 9, 8}));
}
