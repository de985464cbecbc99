// The sum_before_scatter rewrite on small graphs: which sums of max pooling's gradient
// move before the scatter (those over every axis but the channels), which stay, and that
// the moved sums keep their values. Training with and without it is compared in
// tests/frontend/sum_before_scatter_training_test.cpp.
#include "scheduler/sum_before_scatter.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ops/interpreter.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/rng.h"

using namespace dagrad;

namespace {

const Shape kX{2, 3, 6, 6};

// The gradient of max pooling x with `opt`, scattered from dy.
struct Scatter {
  Value dy, dx;
};
Scatter pooling_gradient(Graph& g, Pool2dOptions opt) {
  Value pooled = max_pool2d(g.input("x", kX), opt);
  Value dy = g.input("dy", pooled.shape());
  return {dy, max_pool2d_backward(dy, pooled.producer().output(1), kX, opt)};
}

TensorMap random_inputs(const Shape& dy_shape, uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::empty(kX), dy = Tensor::empty(dy_shape);
  fill_normal(x, gen, 0.0, 1.0);
  fill_normal(dy, gen, 0.0, 1.0);
  return {{"x", x}, {"dy", dy}};
}

}  // namespace

// Sums over {0, 2, 3}, with and without keepdims, and over every axis read dy instead of
// the scattered gradient, and give the values they gave before (within float32 rounding:
// the same numbers, added in another order). Overlapping windows route several outputs to
// one input, which still keeps the sums.
TEST(SumBeforeScatter, SumsOverAllButTheChannelsReadTheValuesBeforeTheScatter) {
  for (const Pool2dOptions opt : {Pool2dOptions{.kernel = 2}, Pool2dOptions{.kernel = 3, .stride = 1, .padding = 1}}) {
    SCOPED_TRACE(opt.kernel.h);
    Graph g, plain;
    const Scatter s = pooling_gradient(g, opt), p = pooling_gradient(plain, opt);
    std::vector<Value> sums{sum(s.dx, {0, 2, 3}), sum(s.dx, {0, -2, -1}, true), sum(s.dx)};
    std::vector<Value> want{sum(p.dx, {0, 2, 3}), sum(p.dx, {0, -2, -1}, true), sum(p.dx)};
    EXPECT_EQ(scheduler::sum_before_scatter(g), 3);
    for (const Value& v : sums) EXPECT_EQ(v.producer().inputs[0], s.dy);
    const TensorMap in = random_inputs(s.dy.shape(), 3);
    const std::vector<Tensor> got = interpret(g, sums, in), expected = interpret(plain, want, in);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].shape(), expected[i].shape());
      const std::vector<float> a = got[i].to_vector<float>(), b = expected[i].to_vector<float>();
      for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-5 * (1 + std::abs(b[k]))) << i << " " << k;
    }
    EXPECT_EQ(scheduler::sum_before_scatter(g), 0) << "nothing left to move";
  }
}

// A sum that keeps an axis other than the channels, a mean, and a sum of a gradient that
// is not a scatter (average pooling's spreads each value over its window) stay.
TEST(SumBeforeScatter, LeavesOtherSumsAlone) {
  Graph g;
  const Scatter s = pooling_gradient(g, {.kernel = 2});
  Value per_image = sum(s.dx, {2, 3});
  Value averaged = mean(s.dx, {0, 2, 3});
  Value spread = sum(avg_pool2d_backward(s.dy, kX, {.kernel = 2}), {0, 2, 3});
  EXPECT_EQ(scheduler::sum_before_scatter(g), 0);
  EXPECT_EQ(per_image.producer().inputs[0], s.dx);
  EXPECT_EQ(averaged.producer().inputs[0], s.dx);
  EXPECT_FALSE(spread.producer().inputs[0].producer().op->flags.scatters_input0);
}
