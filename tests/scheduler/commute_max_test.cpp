// The commute_max rewrite on small graphs: which activations move after max pooling,
// which stay, and where the readers of both pooling outputs end up. Training with and
// without it is compared bit for bit in tests/frontend/commute_max_training_test.cpp.
#include "scheduler/commute_max.h"

#include <gtest/gtest.h>

#include "ops/interpreter.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/rng.h"

using namespace dagrad;

namespace {

const Pool2dOptions kPool{.kernel = 2};

TensorMap random_x(uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::empty(Shape{2, 3, 6, 6});
  fill_normal(x, gen, 0.0, 1.0);
  return {{"x", x}};
}

}  // namespace

TEST(CommuteMax, ReluMovesAfterMaxPoolingWithTheSameValues) {
  Graph g, plain;
  Value y = max_pool2d(relu(g.input("x", Shape{2, 3, 6, 6})), kPool);
  Value argmax = y.producer().output(1);
  Value dx = max_pool2d_backward(g.input("dy", y.shape()), argmax, Shape{2, 3, 6, 6}, kPool);
  Value out = y * 2.0;
  Value want = max_pool2d(relu(plain.input("x", Shape{2, 3, 6, 6})), kPool) * 2.0;
  EXPECT_EQ(scheduler::commute_max(g), 1);
  // The product now reads relu(max_pool2d(x)); the gradient reads the new pool's index.
  const Node& moved = out.producer().inputs[0].producer();
  EXPECT_TRUE(moved.op->flags.commutes_with_max);
  const Node& pool = moved.inputs[0].producer();
  EXPECT_TRUE(pool.op->flags.selects_max);
  EXPECT_TRUE(pool.inputs[0].producer().op->flags.bound_input);
  EXPECT_EQ(dx.producer().inputs[1], pool.output(1));
  const TensorMap x = random_x(7);
  const Tensor got = interpret(g, {&out, 1}, x)[0], expected = interpret(plain, {&want, 1}, x)[0];
  EXPECT_EQ(got.to_vector<float>(), expected.to_vector<float>());
  EXPECT_EQ(scheduler::commute_max(g), 0) << "nothing left to move";
}

TEST(CommuteMax, LeavesActivationsWithOtherReadersOrOtherOpsAlone) {
  Graph g;
  Value x = g.input("x", Shape{2, 3, 6, 6});
  Value shared = relu(x);
  Value a = max_pool2d(shared, kPool), b = shared * 3.0;  // relu's output is read twice
  Value c = max_pool2d(sigmoid(x), kPool);                // sigmoid does not commute
  Value d = avg_pool2d(relu(x), kPool);                   // average pooling selects no max
  EXPECT_EQ(scheduler::commute_max(g), 0);
  EXPECT_EQ(a.producer().inputs[0], shared);
  EXPECT_EQ(b.producer().inputs[0], shared);
  EXPECT_FALSE(c.producer().inputs[0].producer().op->flags.commutes_with_max);
  EXPECT_FALSE(d.producer().op->flags.selects_max);
}
