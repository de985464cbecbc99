// What grad() and hvp() refuse, and with which message.
#include <gtest/gtest.h>

#include "autograd/grad.h"
#include "finite_diff.h"
#include "ops/ops.h"
#include "ops/registry.h"
#include "tests/error_of.h"
#include "tests/ops/op_cases.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

// An op registered without a vjp and without nondiff_inputs, as a forgotten gradient rule
// would be: grad() must refuse to differentiate through it rather than return zeros.
// Registered at start-up so the registry coverage test always sees it (it is in that
// test's allow-list).
const bool kOpaqueRegistered = [] {
  OpDef d;
  d.name = "test_opaque";
  d.infer = [](const InferContext& c) {
    c.expect_inputs(1);
    return std::vector<TensorType>{c.inputs[0]};
  };
  d.doc = "test only: an op without a vjp rule";
  OpRegistry::instance().add(std::move(d));
  return true;
}();

}  // namespace

TEST(GradErrors, NonScalarLossNeedsASeed) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value y = mul(x, x);
  size_t before = g.num_nodes();
  std::string msg = error_of<ShapeError>([&] { autograd::grad(g, y, {x}); });
  EXPECT_NE(msg.find("[grad] the loss 'mul_1' has shape [2,3], not a scalar"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pass a seed gradient of shape [2,3]"), std::string::npos) << msg;
  EXPECT_EQ(g.num_nodes(), before) << "a refused grad() must not append nodes";
}

TEST(GradErrors, SeedMustMatchTheLoss) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value y = mul(x, x);
  Value seed = g.input("seed", Shape{3});
  std::string msg = error_of<ShapeError>([&] { autograd::grad(g, y, {x}, seed); });
  EXPECT_NE(msg.find("the seed gradient 'seed' has shape [3] but the loss 'mul_1' has shape [2,3]"),
            std::string::npos)
      << msg;
  Value seed64 = g.input("seed64", Shape{2, 3}, DType::f64);
  msg = error_of<TypeError>([&] { autograd::grad(g, y, {x}, seed64); });
  EXPECT_NE(msg.find("is float64 but the loss 'mul_1' is float32"), std::string::npos) << msg;
}

TEST(GradErrors, IntegerWrtIsATypeError) {
  Graph g;
  Value logits = g.input("logits", Shape{4, 3});
  Value labels = g.input("labels", Shape{4}, DType::i64);
  Value loss = nll_loss(log_softmax(logits), labels);
  std::string msg = error_of<TypeError>([&] { autograd::grad(g, loss, {logits, labels}); });
  EXPECT_NE(msg.find("[grad] cannot take the gradient with respect to 'labels' ([4] int64)"), std::string::npos)
      << msg;
}

TEST(GradErrors, IntegerLossIsATypeError) {
  Graph g;
  Value x = g.input("x", Shape{4, 3});
  Value idx = argmax(x);
  std::string msg = error_of<TypeError>([&] { autograd::grad(g, idx, {x}, idx); });
  EXPECT_NE(msg.find("[grad] the loss 'argmax_1' is [4] int64"), std::string::npos) << msg;
}

TEST(GradErrors, ValueFromAnotherGraph) {
  Graph g, other;
  Value x = g.input("x", Shape{3});
  Value y = other.input("y", Shape{3});
  Value loss = sum(mul(x, x));
  std::string msg = error_of<GraphError>([&] { autograd::grad(g, loss, {y}); });
  EXPECT_NE(msg.find("[grad] wrt[0] 'y' belongs to another graph"), std::string::npos) << msg;
  msg = error_of<GraphError>([&] { autograd::grad(g, loss, {Value{}}); });
  EXPECT_NE(msg.find("[grad] wrt[0] is an empty Value"), std::string::npos) << msg;
}

TEST(GradErrors, UnreachedWrtGetsZeros) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value unused = g.parameter("unused", Shape{4, 1}, DType::f32);
  Value loss = sum(mul(x, x));
  std::vector<Value> grads = autograd::grad(g, loss, {unused, x});
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_EQ(grads[0].type(), unused.type());
  TensorMap bind{{"x", random_tensor(Shape{2, 3}, DType::f32, 1)},
                 {"unused", random_tensor(Shape{4, 1}, DType::f32, 2)}};
  Tensor gu = run(g, std::span<const Value>(grads.data(), 1), bind)[0];
  for (float v : gu.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(GradErrors, OpWithoutVjpOnThePath) {
  Graph g;
  Value x = g.input("x", Shape{4, 3});
  Value y = g.input("y", Shape{4, 3});
  Value direct = sum(x);
  Value opaque = sum(apply("test_opaque", {mul(x, y)}));
  Value loss = add(direct, opaque);
  size_t before = g.num_nodes();
  std::string msg = error_of<ValueError>([&] { autograd::grad(g, loss, {y, x}); });
  EXPECT_NE(msg.find("[test_opaque] is not differentiable (node 'test_opaque_4' at grad_errors_test.cpp:"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("but lies between 'y' and the loss 'add_6'"), std::string::npos) << msg;
  EXPECT_EQ(g.num_nodes(), before) << "a refused grad() must not append nodes";
}

TEST(GradErrors, OpWithoutVjpOffThePathIsFine) {
  Graph g;
  Value x = g.input("x", Shape{4, 3});
  Value y = g.input("y", Shape{4, 3});
  Value loss = sum(mul(x, apply("test_opaque", {y})));
  EXPECT_NO_THROW(autograd::grad(g, loss, {x}));
  EXPECT_THROW(autograd::grad(g, loss, {y}), ValueError);
}

// sign, argmax, greater_equal, accuracy declare their inputs nondiff: their outputs are
// constants for the derivative (zero almost everywhere), not errors.
TEST(GradErrors, NondiffInputsMakeConstants) {
  Graph g;
  Value x = g.input("x", Shape{4, 3});
  Value y = g.input("y", Shape{4, 3});
  Value labels = g.input("labels", Shape{4}, DType::i64);
  Value loss = add(sum(mul(x, sign(y))), accuracy(y, labels));
  std::vector<Value> grads = autograd::grad(g, loss, {x, y});
  TensorMap bind{{"x", random_tensor(Shape{4, 3}, DType::f32, 1)},
                 {"y", random_tensor(Shape{4, 3}, DType::f32, 2)},
                 {"labels", random_labels(4, 3, 3)}};
  std::vector<Tensor> got = run(g, grads, bind);
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(got[0].data<float>()[i], bind["y"].data<float>()[i] > 0 ? 1.0f : -1.0f);
    EXPECT_EQ(got[1].data<float>()[i], 0.0f);
  }
}

TEST(GradErrors, HvpArguments) {
  Graph g;
  Value x = g.input("x", Shape{3});
  Value v = g.input("v", Shape{4});
  Value loss = sum(mul(x, x));
  std::vector<Value> wrt{x}, two{x, x}, vs{v};
  std::string msg = error_of<ValueError>([&] { autograd::hvp(g, loss, wrt, two); });
  EXPECT_NE(msg.find("[hvp] got 2 vectors for 1 wrt values"), std::string::npos) << msg;
  msg = error_of<ShapeError>([&] { autograd::hvp(g, loss, wrt, vs); });
  EXPECT_NE(msg.find("[hvp] v[0] 'v' is [4] float32 but wrt[0] 'x' is [3] float32"), std::string::npos) << msg;
  std::vector<Value> dependent{exp(x)};
  msg = error_of<ValueError>([&] { autograd::hvp(g, loss, wrt, dependent); });
  EXPECT_NE(msg.find("[hvp] the vectors v depend on wrt[0] 'x'"), std::string::npos) << msg;
}
