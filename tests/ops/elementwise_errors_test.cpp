// What the elementwise builders refuse and with which message, and the graph errors
// they run into (foreign values, cycles).
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "ops/registry.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::testing::error_of;

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

TEST(ElementwiseErrors, ShapesThatDoNotBroadcast) {
  Graph g;
  Value a = g.input("a", Shape{2, 3});
  Value b = g.input("b", Shape{4});
  std::string msg = error_of<ShapeError>([&] { add(a, b); });
  EXPECT_EQ(msg.rfind("[add] shapes [2,3] and [4] cannot be broadcast (dimension 1: 3 vs 4)", 0), 0u) << msg;
  EXPECT_HAS(msg, "(at elementwise_errors_test.cpp:");  // the user's line
  msg = error_of<ShapeError>([&] { a * g.input("c", Shape{3, 2, 2}); });
  EXPECT_HAS(msg, "[mul] shapes [2,3] and [3,2,2] cannot be broadcast");
  msg = error_of<ShapeError>([&] { relu_backward(a, g.input("x", Shape{3, 3})); });
  EXPECT_HAS(msg, "[relu_backward] shapes [2,3] and [3,3] cannot be broadcast");
}

TEST(ElementwiseErrors, BinaryOpsNeedOneDtype) {
  Graph g;
  Value a = g.input("a", Shape{2, 3}, DType::f32);
  Value b = g.input("b", Shape{2, 3}, DType::f64);
  std::string msg = error_of<TypeError>([&] { sub(a, b); });
  EXPECT_HAS(msg, "[sub] input 1 is float64 but input 0 is float32; convert one of them");
  // A double operand becomes a constant of the Value's own dtype: no mismatch.
  EXPECT_EQ((b * 2.0).dtype(), DType::f64);
  EXPECT_EQ((1.0 - a).dtype(), DType::f32);
}

// A mask read only for its sign may differ from the gradient in width (the mixed-precision
// pass hands relu_backward its activation's bfloat16 copy), never in compute type.
TEST(ElementwiseErrors, SignOnlyMasksNeedTheGradientsComputeType) {
  Graph g;
  Value g32 = g.input("g32", Shape{2, 3}), g64 = g.input("g64", Shape{2, 3}, DType::f64);
  Value x32 = g.input("x32", Shape{2, 3}), x16 = g.input("x16", Shape{2, 3}, DType::bf16);
  EXPECT_EQ(relu_backward(g32, x16).dtype(), DType::f32);
  EXPECT_EQ(leaky_relu_backward(g32, x16, 0.1).dtype(), DType::f32);
  std::string msg = error_of<TypeError>([&] { relu_backward(g64, x32); });
  EXPECT_HAS(msg, "[relu_backward] the mask (input 1) is float32 but the gradient is float64");
  EXPECT_HAS(msg, "they may differ only among float32, bfloat16 and float16");
  EXPECT_EQ(relu_backward(cast(g32, DType::bf16), x32).dtype(), DType::bf16);  // the gradient's dtype
  msg = error_of<TypeError>([&] { mul(g32, x16); });
  EXPECT_HAS(msg, "[mul] input 1 is bfloat16 but input 0 is float32");
}

TEST(ElementwiseErrors, IntegerInputsAreRefused) {
  Graph g;
  Value labels = g.input("labels", Shape{8}, DType::i64);
  std::string msg = error_of<TypeError>([&] { relu(labels); });
  EXPECT_HAS(msg, "[relu] input 0 must be a floating-point dtype, got int64");
  msg = error_of<TypeError>([&] { add(labels, labels); });
  EXPECT_HAS(msg, "[add] input 0 must be a floating-point dtype, got int64");
}

TEST(ElementwiseErrors, UnknownAndMissingAttributes) {
  Graph g;
  Value x = g.input("x", Shape{4});
  std::string msg = error_of<ValueError>([&] { apply("relu", {x}, {{"slope", 0.1}}); });
  EXPECT_HAS(msg, "[relu] unknown attribute 'slope' (known: none)");
  msg = error_of<ValueError>([&] { apply("leaky_relu", {x}, {{"slope", 0.1}}); });
  EXPECT_HAS(msg, "[leaky_relu] unknown attribute 'slope' (known: negative_slope)");
  msg = error_of<ValueError>([&] { apply("pow", {x}); });
  EXPECT_HAS(msg, "[pow] missing required attribute 'exponent'");
  msg = error_of<ValueError>([&] { apply("pow", {x}, {{"exponent", std::string("two")}}); });
  EXPECT_HAS(msg, "[pow] attribute 'exponent' has the wrong type");
}

TEST(ElementwiseErrors, WrongNumberOfInputs) {
  Graph g;
  Value x = g.input("x", Shape{4});
  std::string msg = error_of<ShapeError>([&] { apply("add", {x}); });
  EXPECT_HAS(msg, "[add] expects 2 inputs, got 1");
  msg = error_of<ShapeError>([&] { apply("exp", {x, x}); });
  EXPECT_HAS(msg, "[exp] expects 1 inputs, got 2");
}

TEST(ElementwiseErrors, InvalidValues) {
  Graph g;
  Value x = g.input("x", Shape{4});
  std::string msg = error_of<GraphError>([&] { add(x, Value{}); });
  EXPECT_HAS(msg, "[add] input 1 is an empty Value");
  msg = error_of<GraphError>([&] { Value{} + 1.0; });
  EXPECT_HAS(msg, "invalid (empty) Value");
}

TEST(ElementwiseErrors, ValueFromAnotherGraph) {
  Graph g1, g2;
  Value a = g1.input("a", Shape{3});
  Value b = g2.input("b", Shape{3});
  size_t before = g1.num_nodes();
  std::string msg = error_of<GraphError>([&] { mul(a, b); });
  EXPECT_HAS(msg, "[mul] input 1 belongs to another graph (at elementwise_errors_test.cpp:");
  EXPECT_EQ(g1.num_nodes(), before) << "a refused node must not be appended";
}

TEST(ElementwiseErrors, CycleIsReportedByTopoOrder) {
  Graph g;
  Value x = g.input("x", Shape{2, 2});
  Value h = relu(x);
  Value y = tanh(h);
  EXPECT_EQ(g.topo_order().size(), 3u);
  // relu now reads tanh's output, which reads relu's: a cycle.
  g.set_input(h.node, 0, y);
  std::string msg = error_of<GraphError>([&] { g.topo_order(); });
  EXPECT_HAS(msg, "the graph has a cycle");
}

TEST(ElementwiseErrors, SetInputChecksTheNewValue) {
  Graph g;
  Value x = g.input("x", Shape{2, 2});
  Value h = relu(x);
  std::string msg = error_of<ShapeError>([&] { g.set_input(h.node, 0, g.input("z", Shape{3})); });
  EXPECT_HAS(msg, "[relu] set_input: new input [3] float32 does not match [2,2] float32");
  Graph other;
  msg = error_of<GraphError>([&] { g.set_input(h.node, 0, other.input("x", Shape{2, 2})); });
  EXPECT_HAS(msg, "[relu] set_input: value belongs to another graph");
  msg = error_of<GraphError>([&] { g.set_input(h.node, 1, x); });
  EXPECT_HAS(msg, "has no input 1");
}
