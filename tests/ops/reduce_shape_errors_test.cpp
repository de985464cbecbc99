// The errors the reduce and shape families throw at graph-building time, and their
// builders' shortcuts (no node for a no-op sum_to / broadcast_to / reshape).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "ops/ops.h"
#include "ops/registry.h"
#include "tests/error_of.h"

using namespace dagrad;

namespace {

using dagrad::testing::expect_error;

class ReduceShapeErrors : public ::testing::Test {
 protected:
  Graph g;
  Value x23 = g.input("x23", Shape{2, 3});
  Value x234 = g.input("x234", Shape{2, 3, 4});
};

TEST_F(ReduceShapeErrors, ReduceAxisOutOfRange) {
  expect_error<ShapeError>([&] { sum(x23, {3}); }, {"[sum] axis 3 is out of range for shape [2,3]"});
  expect_error<ShapeError>([&] { mean(x23, {-3}); }, {"[mean] axis -3 is out of range for shape [2,3]"});
  expect_error<ShapeError>([&] { max(x23, {0, 2}); }, {"[max] axis 2 is out of range for shape [2,3]"});
}

TEST_F(ReduceShapeErrors, ReduceErrorsNameTheSourceLine) {
  expect_error<ShapeError>([&] { sum(x23, {3}); }, {"reduce_shape_errors_test.cpp:"});
}

TEST_F(ReduceShapeErrors, ReduceAxisTwice) {
  expect_error<ShapeError>([&] { sum(x234, {1, -2}); }, {"[sum] axis -2 is listed twice in axes [1,-2]"});
}

TEST_F(ReduceShapeErrors, MaxOverEmptyAxis) {
  Value e = g.input("e", Shape{0, 3});
  expect_error<ShapeError>([&] { max(e, {0}); }, {"[max] cannot take the max over axis 0 of size 0"});
  expect_error<ShapeError>([&] { argmax(e, 0); }, {"[argmax] cannot take the argmax over axis 0 of size 0"});
  EXPECT_EQ(sum(e, {0}).shape(), Shape({3}));
}

TEST_F(ReduceShapeErrors, ReduceNeedsFloats) {
  Value i = g.input("i", Shape{4}, DType::i64);
  expect_error<TypeError>([&] { sum(i); }, {"[sum] input 0 must be float32 or float64, got int64"});
  expect_error<TypeError>([&] { softmax(i); }, {"[softmax]"});
}

TEST_F(ReduceShapeErrors, UnknownAttribute) {
  expect_error<ValueError>(
      [&] {
        apply("sum", {x23}, Attrs{{"axis", int64_t{0}}});
      },
      {"[sum] unknown attribute 'axis' (known: axes, keepdims)"});
}

TEST_F(ReduceShapeErrors, SumToIncompatible) {
  expect_error<ShapeError>(
      [&] {
        sum_to(x234, Shape{5, 1});
      },
      {"[sum_to] cannot sum shape [2,3,4] to [5,1]", "dimension 1 of [2,3,4] is 3 but 5 in [5,1]"});
  expect_error<ShapeError>(
      [&] {
        sum_to(x23, Shape{4, 2, 3});
      },
      {"[sum_to] cannot sum shape [2,3] to [4,2,3]: [4,2,3] has more dims than [2,3]"});
}

TEST_F(ReduceShapeErrors, BroadcastToIncompatible) {
  expect_error<ShapeError>(
      [&] {
        broadcast_to(x23, Shape{4, 3});
      },
      {"[broadcast_to] cannot broadcast shape [2,3] to [4,3]"});
  expect_error<ShapeError>([&] { broadcast_to(x234, Shape{3, 4}); }, {"[broadcast_to]", "has more dims than"});
  expect_error<ShapeError>(
      [&] {
        apply("broadcast_to", {x23}, Attrs{{"shape", std::vector<int64_t>{-2, 3}}});
      },
      {"[broadcast_to] target shape [-2,3] has a negative dimension"});
}

TEST_F(ReduceShapeErrors, SoftmaxAxis) {
  expect_error<ShapeError>([&] { softmax(x23, 2); }, {"[softmax] axis 2 is out of range for shape [2,3]"});
  expect_error<ShapeError>([&] { log_softmax(x23, -3); }, {"[log_softmax] axis -3 is out of range"});
  expect_error<ShapeError>([&] { argmax(x23, 5); }, {"[argmax] axis 5 is out of range"});
}

TEST_F(ReduceShapeErrors, OutputTypes) {
  EXPECT_EQ(sum(x234, {0, 2}).shape(), Shape({3}));
  EXPECT_EQ(mean(x234, {1}, true).shape(), Shape({2, 1, 4}));
  EXPECT_EQ(max(x234).shape(), Shape{});
  Value a = argmax(x234, 1);
  EXPECT_EQ(a.shape(), Shape({2, 4}));
  EXPECT_EQ(a.dtype(), DType::i64);
  EXPECT_EQ(softmax(x234, 0).shape(), x234.shape());
}

TEST_F(ReduceShapeErrors, NoOpBuildersAddNoNode) {
  size_t n = g.num_nodes();
  EXPECT_EQ(sum_to(x23, Shape{2, 3}), x23);
  EXPECT_EQ(broadcast_to(x23, Shape{2, 3}), x23);
  EXPECT_EQ(reshape(x23, {2, 3}), x23);
  EXPECT_EQ(g.num_nodes(), n);
  EXPECT_EQ(sum_to(x234, Shape{3, 1}).shape(), Shape({3, 1}));
  EXPECT_EQ(broadcast_to(x23, Shape{5, 2, 3}).shape(), Shape({5, 2, 3}));
}

TEST_F(ReduceShapeErrors, ReshapeNumelMismatch) {
  expect_error<ShapeError>(
      [&] {
        reshape(x23, {4, 2});
      },
      {"[reshape] cannot reshape [2,3] (6 elements) into [4,2] (8 elements)"});
  expect_error<ShapeError>([&] { reshape(x23, {4, -1}); }, {"[reshape] cannot reshape [2,3] (6 elements) into [4,-1]"});
}

TEST_F(ReduceShapeErrors, ReshapeTwoInferred) {
  expect_error<ShapeError>([&] { reshape(x234, {-1, 2, -1}); }, {"[reshape] shape [-1,2,-1] has more than one -1"});
  expect_error<ShapeError>([&] { reshape(x23, {-2, -3}); }, {"[reshape] shape [-2,-3] has a negative dimension -2"});
}

TEST_F(ReduceShapeErrors, ReshapeAndFlatten) {
  EXPECT_EQ(reshape(x234, {-1, 4}).shape(), Shape({6, 4}));
  EXPECT_TRUE(op_def("reshape").flags.view);
  EXPECT_EQ(flatten(x234).shape(), Shape({2, 12}));
  EXPECT_EQ(flatten(x234, 0).shape(), Shape({24}));
  EXPECT_EQ(flatten(x234, -1).shape(), Shape({2, 3, 4}));
  expect_error<ShapeError>([&] { flatten(x23, 2); }, {"[flatten] axis 2 is out of range for shape [2,3]"});
}

TEST_F(ReduceShapeErrors, TransposeBadDims) {
  expect_error<ShapeError>([&] { transpose(x23, 0, 2); }, {"[transpose] axis 2 is out of range for shape [2,3]"});
  Value v = g.input("v", Shape{5});
  expect_error<ShapeError>([&] { transpose(v); }, {"[transpose] axis -2 is out of range for shape [5]"});
  EXPECT_EQ(transpose(x234, 0, 2).shape(), Shape({4, 3, 2}));
}

TEST_F(ReduceShapeErrors, PermuteNotAPermutation) {
  expect_error<ShapeError>([&] { permute(x234, {0, 0, 1}); }, {"[permute] perm [0,0,1] lists axis 0 twice"});
  expect_error<ShapeError>(
      [&] {
        permute(x234, {1, 0});
      },
      {"[permute] perm [1,0] has 2 entries but the input [2,3,4] has rank 3"});
  expect_error<ShapeError>([&] { permute(x23, {0, 2}); }, {"[permute] axis 2 is out of range for shape [2,3]"});
  EXPECT_EQ(permute(x234, {2, 0, 1}).shape(), Shape({4, 2, 3}));
}

TEST_F(ReduceShapeErrors, ConcatRankMismatch) {
  expect_error<ShapeError>(
      [&] {
        concat({x234, x23}, 0);
      },
      {"[concat] input 1 has rank 2 (shape [2,3]) but input 0 has rank 3 (shape [2,3,4])"});
}

TEST_F(ReduceShapeErrors, ConcatDimMismatch) {
  Value y = g.input("y", Shape{2, 5, 5});
  expect_error<ShapeError>(
      [&] {
        concat({x234, y}, 1);
      },
      {"[concat] input 1 has shape [2,5,5] but input 0 has [2,3,4]: dimension 2 differs"});
  expect_error<ShapeError>([&] { concat({x23, x23}, 2); }, {"[concat] axis 2 is out of range for shape [2,3]"});
  Value d = g.input("d", Shape{2, 3}, DType::f64);
  expect_error<TypeError>([&] { concat({x23, d}); }, {"[concat] input 1 is float64 but input 0 is float32"});
  EXPECT_EQ(concat({x234, g.input("z", Shape{2, 5, 4}), x234}, 1).shape(), Shape({2, 11, 4}));
}

TEST_F(ReduceShapeErrors, SliceOutOfRange) {
  expect_error<ShapeError>([&] { slice(x234, 1, 2, 7); },
                           {"[slice] range [2,7) is out of bounds for axis 1 of size 3 (shape [2,3,4])"});
  expect_error<ShapeError>([&] { slice(x234, 2, 3, 1); }, {"[slice] range [3,1) is out of bounds for axis 2"});
  expect_error<ShapeError>([&] { slice(x234, 0, -5, 1); }, {"[slice] range [-5,1)"});
  expect_error<ShapeError>([&] { slice(x234, 3, 0, 1); }, {"[slice] axis 3 is out of range for shape [2,3,4]"});
  EXPECT_EQ(slice(x234, -1, 1, -1).shape(), Shape({2, 3, 2}));
}

}  // namespace
