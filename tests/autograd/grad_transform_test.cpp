// The transform itself: fan-out sums, intermediate wrt, seeds, pruning, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "autograd/grad.h"
#include "finite_diff.h"
#include "ops/ops.h"
#include "ops/registry.h"
#include "tests/ops/op_cases.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

std::vector<double> values(const Tensor& t) { return to_f64(t).to_vector<double>(); }

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << "element " << i;
}

}  // namespace

TEST(GradTransform, FanOutSumsGradients) {
  Graph g;
  Value x = g.input("x", Shape{5}, DType::f64);
  Value loss = sum(add(mul(x, x), x));  // x used three times
  std::vector<Value> gx = autograd::grad(g, loss, {x});
  TensorMap bind{{"x", random_tensor(Shape{5}, DType::f64, 1)}};
  std::vector<double> xs = values(bind["x"]), want;
  for (double v : xs) want.push_back(2 * v + 1);
  expect_near_all(values(run(g, gx, bind)[0]), want);
}

TEST(GradTransform, WrtCanBeAnIntermediateValue) {
  Graph g;
  Value x = g.input("x", Shape{4}, DType::f64);
  Value h = exp(x);
  Value loss = sum(mul(h, h));
  std::vector<Value> grads = autograd::grad(g, loss, {h, x});
  TensorMap bind{{"x", random_tensor(Shape{4}, DType::f64, 2)}};
  std::vector<Tensor> got = run(g, grads, bind);
  std::vector<double> dh, dx;
  for (double v : values(bind["x"])) dh.push_back(2 * std::exp(v)), dx.push_back(2 * std::exp(2 * v));
  expect_near_all(values(got[0]), dh);
  expect_near_all(values(got[1]), dx);
}

TEST(GradTransform, SeedForANonScalarLoss) {
  Graph g;
  Value x = g.input("x", Shape{2, 3}, DType::f64);
  Value s = g.input("s", Shape{2, 3}, DType::f64);
  std::vector<Value> gx = autograd::grad(g, mul(x, x), {x}, s);
  TensorMap bind{{"x", random_tensor(Shape{2, 3}, DType::f64, 3)}, {"s", random_tensor(Shape{2, 3}, DType::f64, 4)}};
  std::vector<double> xs = values(bind["x"]), ss = values(bind["s"]), want;
  for (size_t i = 0; i < xs.size(); ++i) want.push_back(2 * xs[i] * ss[i]);
  expect_near_all(values(run(g, gx, bind)[0]), want);
}

TEST(GradTransform, GradientOfTheLossItselfIsTheSeed) {
  Graph g;
  Value x = g.input("x", Shape{3}, DType::f64);
  Value loss = sum(exp(x));
  std::vector<Value> gl = autograd::grad(g, loss, {loss});
  TensorMap bind{{"x", random_tensor(Shape{3}, DType::f64, 5)}};
  expect_near_all(values(run(g, gl, bind)[0]), {1.0});
}

TEST(GradTransform, PrunesBranchesThatDoNotReachWrt) {
  Graph g;
  Value x = g.input("x", Shape{3}, DType::f64);
  Value w = g.input("w", Shape{3}, DType::f64);
  Value y = g.input("y", Shape{3}, DType::f64);
  Value side = sum(exp(y));
  Value loss = add(sum(mul(x, w)), side);
  std::set<int> y_branch{y.node, side.node, side.producer().inputs[0].node};
  size_t forward_nodes = g.num_nodes();
  autograd::grad(g, loss, {x});
  for (size_t id = forward_nodes; id < g.num_nodes(); ++id)
    for (const Value& in : g.node(static_cast<int>(id)).inputs)
      EXPECT_FALSE(y_branch.count(in.node)) << "backward node '" << g.node(static_cast<int>(id)).name
                                            << "' reads the branch of y, which does not reach x";
}

TEST(GradTransform, RepeatedCallsAreIndependent) {
  Graph g;
  Value x = g.input("x", Shape{4}, DType::f64);
  Value loss = sum(mul(sigmoid(x), x));
  std::vector<Value> first = autograd::grad(g, loss, {x});
  std::vector<Value> second = autograd::grad(g, loss, {x});
  TensorMap bind{{"x", random_tensor(Shape{4}, DType::f64, 6)}};
  std::vector<Value> both{first[0], second[0]};
  std::vector<Tensor> got = run(g, both, bind);
  expect_near_all(values(got[0]), values(got[1]), 0);
}

// The same program gives the same backward graph, node for node, so plans, fusion and
// rounding are reproducible.
TEST(GradTransform, BackwardGraphIsDeterministic) {
  auto build = [](Graph& g) {
    Value x = g.input("x", Shape{4, 3}, DType::f64);
    Value w1 = g.parameter("w1", Shape{5, 3}, DType::f64);
    Value w2 = g.parameter("w2", Shape{2, 5}, DType::f64);
    Value h = tanh(linear(x, w1));
    Value o = linear(add(h, sigmoid(h)), w2);
    Value loss = sum(mul(o, o));
    return autograd::grad(g, loss, std::vector<Value>{w1, w2, x});
  };
  Graph a, b;
  std::vector<Value> ga = build(a), gb = build(b);
  ASSERT_EQ(a.num_nodes(), b.num_nodes());
  for (size_t id = 0; id < a.num_nodes(); ++id) {
    const Node& na = a.node(static_cast<int>(id));
    const Node& nb = b.node(static_cast<int>(id));
    EXPECT_EQ(na.op_name(), nb.op_name()) << "node " << id;
    ASSERT_EQ(na.inputs.size(), nb.inputs.size());
    for (size_t i = 0; i < na.inputs.size(); ++i) {
      EXPECT_EQ(na.inputs[i].node, nb.inputs[i].node) << "node " << id << " input " << i;
      EXPECT_EQ(na.inputs[i].index, nb.inputs[i].index);
    }
  }
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_EQ(ga[i].node, gb[i].node);
}

// A cast's gradient is cast back: d/dx Σ cast(cast(x, bf16), f32)·w = w rounded to
// bfloat16 (the way back goes through bfloat16 too), in x's dtype.
TEST(GradTransform, CastGradientsReturnInTheInputDtype) {
  Graph g;
  Value x = g.input("x", Shape{6}, DType::f64);
  Value w = g.input("w", Shape{6}, DType::f32);
  Value y = cast(cast(x, DType::bf16), DType::f32);
  std::vector<Value> gx = autograd::grad(g, sum(mul(y, w)), {x});
  ASSERT_EQ(gx[0].dtype(), DType::f64);
  TensorMap bind{{"x", random_tensor(Shape{6}, DType::f64, 5)},
                 {"w", Tensor::from_vector<float>(Shape{6}, {1.0f, 1.00390625f, -3.0f, 0.1f, 1e-3f, 70000.0f})}};
  const std::vector<double> got = values(run(g, gx, bind)[0]);
  const std::vector<double> want = {1.0, 1.0, -3.0, 0.10009765625, 0.00099945068359375, 70144.0};
  EXPECT_EQ(got, want);
  // Integers carry no gradient: an integer cast on the way cuts it.
  Graph h;
  Value a = h.input("a", Shape{3}, DType::f32);
  Value cut = cast(cast(a, DType::i32), DType::f32);
  std::vector<Value> ga = autograd::grad(h, sum(mul(cut, a)), {a});
  const std::vector<double> ga_got =
      values(run(h, ga, {{"a", Tensor::from_vector<float>(Shape{3}, {1.5f, -2.5f, 7.0f})}})[0]);
  EXPECT_EQ(ga_got, (std::vector<double>{1.0, -2.0, 7.0}));  // only through the direct factor a
}
