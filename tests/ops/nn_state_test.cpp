// State that the generic reference test cannot see: batch_norm's in-place running
// statistics, dropout's per-step masks and its kept fraction, the dropout vjp's mask,
// and results that do not depend on the thread count.
#include <gtest/gtest.h>

#include <cmath>

#include "op_cases.h"
#include "ops/nn_math.h"
#include "ops/interpreter.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/thread_pool.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

struct BnGraph {
  Graph g;
  Value y;
  TensorMap bind;
};

// batch_norm on an input x and parameters bound by name, as a model binds them.
void build_bn(BnGraph& b, const Shape& shape, DType dt, bool training, double momentum) {
  const Shape ch{shape[1]};
  Value x = b.g.input("x", shape, dt);
  Value gamma = b.g.parameter("bn.weight", ch, dt);
  Value beta = b.g.parameter("bn.bias", ch, dt);
  Value rm = b.g.parameter("bn.running_mean", ch, dt, false);
  Value rv = b.g.parameter("bn.running_var", ch, dt, false);
  b.y = batch_norm(x, gamma, beta, rm, rv, training, momentum);
  b.bind = {{"x", random_tensor(shape, dt, 1, -1.0, 3.0)},
            {"bn.weight", random_tensor(ch, dt, 2, 0.5, 1.5)},
            {"bn.bias", random_tensor(ch, dt, 3)},
            {"bn.running_mean", random_tensor(ch, dt, 4, -0.5, 0.5)},
            {"bn.running_var", random_tensor(ch, dt, 5, 0.5, 1.5)}};
}

class BatchNormState : public ::testing::TestWithParam<std::tuple<Shape, DType>> {};

TEST_P(BatchNormState, TrainingUpdatesRunningStatsInPlace) {
  const auto [shape, dt] = GetParam();
  const double momentum = 0.2;
  BnGraph b;
  build_bn(b, shape, dt, true, momentum);
  const Tensor rm_before = b.bind["bn.running_mean"].clone(), rv_before = b.bind["bn.running_var"].clone();
  std::vector<Value> outs{b.y};
  interpret(b.g, outs, b.bind);

  const Tensor& x = b.bind["x"];
  const int64_t c = shape[1], s = shape.numel() / (shape[0] * c), m = shape[0] * s;
  const double tol = dt == DType::f32 ? 1e-6 : 1e-12;
  for (int64_t ci = 0; ci < c; ++ci) {
    double mean = 0, sq = 0;
    for (int64_t n = 0; n < shape[0]; ++n)
      for (int64_t k = 0; k < s; ++k) mean += at(x, (n * c + ci) * s + k);
    mean /= m;
    for (int64_t n = 0; n < shape[0]; ++n)
      for (int64_t k = 0; k < s; ++k) sq += std::pow(at(x, (n * c + ci) * s + k) - mean, 2);
    const double want_mean = (1 - momentum) * at(rm_before, ci) + momentum * mean;
    const double want_var = (1 - momentum) * at(rv_before, ci) + momentum * sq / (m - 1);  // unbiased
    EXPECT_NEAR(at(b.bind["bn.running_mean"], ci), want_mean, tol * (1 + std::abs(want_mean))) << "channel " << ci;
    EXPECT_NEAR(at(b.bind["bn.running_var"], ci), want_var, tol * (1 + std::abs(want_var))) << "channel " << ci;
  }
}

TEST_P(BatchNormState, EvalLeavesRunningStatsAlone) {
  const auto [shape, dt] = GetParam();
  BnGraph b;
  build_bn(b, shape, dt, false, 0.1);
  const Tensor rm_before = b.bind["bn.running_mean"].clone(), rv_before = b.bind["bn.running_var"].clone();
  std::vector<Value> outs{b.y};
  interpret(b.g, outs, b.bind);
  for (int64_t ci = 0; ci < shape[1]; ++ci) {
    EXPECT_EQ(at(b.bind["bn.running_mean"], ci), at(rm_before, ci));
    EXPECT_EQ(at(b.bind["bn.running_var"], ci), at(rv_before, ci));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormState,
                         ::testing::Combine(::testing::Values(Shape{4, 3, 5, 5}, Shape{6, 4}),
                                            ::testing::Values(DType::f32, DType::f64)));

// Runs dropout(x) at `step` and returns y.
Tensor run_dropout(const Tensor& x, double p, uint64_t seed, uint64_t step) {
  Graph g;
  Value y = dropout(g.input("x", x.shape(), x.dtype()), p, seed);
  std::vector<Value> outs{y};
  return interpret(g, outs, {{"x", x}}, step)[0];
}

TEST(Dropout, KeptFractionIsOneMinusP) {
  const Tensor x = Tensor::full(Shape{1 << 20}, 1.0);
  for (double p : {0.1, 0.5, 0.8}) {
    const Tensor y = run_dropout(x, p, 42, 3);
    const float* py = y.data<float>();
    int64_t kept = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      if (py[i] != 0) {
        ++kept;
        ASSERT_FLOAT_EQ(py[i], static_cast<float>(1.0 / (1.0 - p)));
      }
    }
    // The standard deviation of the fraction is sqrt(p(1-p)/n) < 5e-4.
    EXPECT_NEAR(static_cast<double>(kept) / y.numel(), 1 - p, 3e-3) << "p = " << p;
  }
}

TEST(Dropout, EachStepDrawsANewMask) {
  const Tensor x = random_tensor(Shape{64, 65}, DType::f32, 9);
  const double p = 0.5;
  const uint64_t seed = 1234;
  const Tensor y0 = run_dropout(x, p, seed, 0), y1 = run_dropout(x, p, seed, 1), y1b = run_dropout(x, p, seed, 1);
  int64_t differ = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    differ += (at(y0, i) == 0) != (at(y1, i) == 0);
    ASSERT_EQ(at(y1, i), at(y1b, i)) << "the same step must give the same mask";
    // Step 1's mask is the documented function of (seed, step, index).
    const bool keep = random_uniform(seed ^ 0x9E3779B97F4A7C15ull, static_cast<uint64_t>(i)) >= p;
    ASSERT_EQ(at(y1, i) != 0, keep) << "element " << i;
  }
  // Independent masks disagree on about half of the elements.
  EXPECT_GT(differ, x.numel() / 3);
  EXPECT_EQ(dropout_step_seed(seed, 1), seed ^ 0x9E3779B97F4A7C15ull);
}

TEST(Dropout, EvalModeIsIdentity) {
  Graph g;
  Value x = g.input("x", Shape{3, 5});
  Value y = dropout(x, 0.5, 1, false);
  const Tensor xt = random_tensor(Shape{3, 5}, DType::f32, 5);
  std::vector<Value> outs{y};
  const Tensor yt = interpret(g, outs, {{"x", xt}}, 7)[0];
  for (int64_t i = 0; i < xt.numel(); ++i) EXPECT_EQ(at(yt, i), at(xt, i));
}

// The vjp is dropout of the gradient with the same attributes: in the same step it
// zeroes exactly the elements the forward pass dropped, and scales the rest alike.
TEST(Dropout, VjpReusesTheForwardMask) {
  Graph g;
  Value x = g.input("x", Shape{7, 9});
  Value dy = g.input("dy", Shape{7, 9});
  Value y = dropout(x, 0.4, 99);
  const Node& n = y.producer();
  VjpContext ctx{g, n, n.inputs, {y}, {dy}, {true}};
  std::vector<Value> dx = n.op->vjp(ctx);
  ASSERT_EQ(dx.size(), 1u);
  ASSERT_TRUE(dx[0].valid());
  const Tensor xt = random_tensor(Shape{7, 9}, DType::f32, 1), dyt = random_tensor(Shape{7, 9}, DType::f32, 2);
  std::vector<Value> outs{y, dx[0]};
  const std::vector<Tensor> got = interpret(g, outs, {{"x", xt}, {"dy", dyt}}, 5);
  for (int64_t i = 0; i < xt.numel(); ++i) {
    EXPECT_FLOAT_EQ(at(got[1], i) * at(xt, i), at(got[0], i) * at(dyt, i)) << "element " << i;
    EXPECT_EQ(at(got[0], i) == 0, at(got[1], i) == 0) << "element " << i;
  }
}

// Every nn kernel gives bit-identical results with 1 and 3 threads.
TEST(NnDeterminism, SameResultsForAnyThreadCount) {
  Graph g;
  Value x = g.input("x", Shape{33, 5, 6, 6});
  Value c5 = g.input("c5", Shape{5});
  Value rm = g.input("rm", Shape{5});
  Value rv = g.input("rv", Shape{5});
  Value logits = g.input("logits", Shape{257, 10});
  Value t = g.input("t", Shape{257}, DType::i64);
  Value bn = batch_norm(x, c5, c5, rm, rv, true);
  std::vector<Value> outs{
      bn,
      dropout(x, 0.3, 5),
      softmax_cross_entropy(logits, t),
      softmax_cross_entropy_backward(full(g, Shape{}, 1.0), logits, t),
      accuracy(logits, t),
      apply_multi("batch_norm_backward", {x, x, c5, c5, c5})[0],
  };
  TensorMap bind{{"x", random_tensor(Shape{33, 5, 6, 6}, DType::f32, 1)},
                 {"c5", random_tensor(Shape{5}, DType::f32, 2)},
                 {"rm", random_tensor(Shape{5}, DType::f32, 6)},
                 {"rv", random_tensor(Shape{5}, DType::f32, 3, 0.5, 1.5)},
                 {"logits", random_tensor(Shape{257, 10}, DType::f32, 4)},
                 {"t", random_labels(257, 10, 5)}};
  auto run_with = [&](int threads) {
    set_num_threads(threads);
    TensorMap fresh;
    for (auto& [k, v] : bind) fresh[k] = v.clone();
    return interpret(g, outs, fresh);
  };
  const int before = num_threads();
  const std::vector<Tensor> a = run_with(1), b = run_with(3);
  set_num_threads(before);
  for (size_t o = 0; o < a.size(); ++o)
    for (int64_t i = 0; i < a[o].numel(); ++i)
      ASSERT_EQ(at(a[o], i), at(b[o], i)) << "output " << o << " element " << i;
}

}  // namespace
