// The transformer ops' errors (layer_norm, gather, scaled_dot_product_attention): each
// names the op and the shapes and says what to change, at build time (shape inference)
// or, for index values, when the CPU kernel runs.
#include <gtest/gtest.h>

#include <string>

#include "ops/interpreter.h"
#include "ops/ops.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::testing::error_of;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(TransformerErrors, LayerNormGammaMustHaveTheNormalisedShape) {
  Graph g;
  Value x = g.input("x", Shape{4, 8});
  Value gamma = g.input("gamma", Shape{4});
  const std::string e = error_of<ShapeError>([&] { layer_norm(x, gamma); });
  EXPECT_TRUE(contains(e, "[layer_norm] gamma has shape [4] but x [4,8] is normalised over [8] (axis -1)")) << e;
}

TEST(TransformerErrors, LayerNormAxisOutOfRange) {
  Graph g;
  Value x = g.input("x", Shape{4, 8});
  const std::string e = error_of<ShapeError>([&] { layer_norm(x, {}, {}, 2); });
  EXPECT_TRUE(contains(e, "[layer_norm] axis 2 is out of range for x of shape [4,8]; it must be in [-2, 2)")) << e;
}

TEST(TransformerErrors, LayerNormBetaNeedsGamma) {
  Graph g;
  Value x = g.input("x", Shape{4, 8});
  Value beta = g.input("beta", Shape{8});
  EXPECT_TRUE(contains(error_of<ValueError>([&] { layer_norm(x, {}, beta); }), "beta needs gamma"));
}

TEST(TransformerErrors, GatherIndicesMustBeInt64) {
  Graph g;
  Value table = g.input("table", Shape{10, 4});
  Value ids = g.input("ids", Shape{3}, DType::i32);
  const std::string e = error_of<TypeError>([&] { gather(table, ids); });
  EXPECT_TRUE(contains(e, "[gather] indices must be int64, got int32")) << e;
}

TEST(TransformerErrors, GatherAxisOutOfRange) {
  Graph g;
  Value table = g.input("table", Shape{10, 4});
  Value ids = g.input("ids", Shape{3}, DType::i64);
  const std::string e = error_of<ShapeError>([&] { gather(table, ids, 2); });
  EXPECT_TRUE(contains(e, "[gather] axis 2 is out of range for data of shape [10,4]")) << e;
}

TEST(TransformerErrors, GatherIndexOutOfRangeAtRunTime) {
  Graph g;
  Value table = g.input("table", Shape{10, 4});
  Value ids = g.input("ids", Shape{3}, DType::i64);
  Value out = gather(table, ids);
  TensorMap bind{{"table", Tensor::full(Shape{10, 4}, 1.0)},
                 {"ids", Tensor::from_vector(Shape{3}, std::vector<int64_t>{1, 10, 2})}};
  std::vector<Value> outs{out};
  const std::string e = error_of<ValueError>([&] { interpret(g, outs, bind); });
  EXPECT_TRUE(contains(e, "[gather] index 10 (at flat position 1 of the indices) is out of range for an axis of "
                          "size 10; indices must be in [-10, 10)"))
      << e;
}

TEST(TransformerErrors, AttentionNeedsFourDimensionalInputs) {
  Graph g;
  Value q = g.input("q", Shape{2, 5, 8});
  Value k = g.input("k", Shape{2, 1, 5, 8});
  const std::string e = error_of<ShapeError>([&] { scaled_dot_product_attention(q, k, k); });
  EXPECT_TRUE(contains(e, "[scaled_dot_product_attention] q must be 4-D [N, heads, length, dim] (layout NHLD), got shape [2,5,8]"))
      << e;
}

TEST(TransformerErrors, AttentionHeadDimsMustAgree) {
  Graph g;
  Value q = g.input("q", Shape{2, 4, 5, 8});
  Value k = g.input("k", Shape{2, 4, 6, 16});
  Value v = g.input("v", Shape{2, 4, 6, 16});
  const std::string e = error_of<ShapeError>([&] { scaled_dot_product_attention(q, k, v); });
  EXPECT_TRUE(contains(e, "q and k must have the same last dim (q [2,4,5,8], k [2,4,6,16], v [2,4,6,16], layout NHLD)")) << e;
}

TEST(TransformerErrors, AttentionMaskMustBroadcastToTheScores) {
  Graph g;
  Value q = g.input("q", Shape{2, 4, 5, 8});
  Value k = g.input("k", Shape{2, 4, 6, 8});
  Value mask = g.input("mask", Shape{5, 5});
  const std::string e = error_of<ShapeError>([&] { scaled_dot_product_attention(q, k, k, mask); });
  EXPECT_TRUE(contains(e, "mask of shape [5,5] does not broadcast to the scores [N,H,L,S] = [2,4,5,6]")) << e;
}

TEST(TransformerErrors, AttentionLayoutMustBeKnown) {
  Graph g;
  Value q = g.input("q", Shape{2, 4, 5, 8});
  const std::string e = error_of<ValueError>([&] {
    apply("scaled_dot_product_attention", {q, q, q}, Attrs{{"layout", std::string("BHSD")}});
  });
  EXPECT_TRUE(contains(e, "[scaled_dot_product_attention] layout must be NHLD, NLHD or NL3HD, got 'BHSD'")) << e;
}

TEST(TransformerErrors, PackedAttentionNeedsThreeParts) {
  Graph g;
  Value qkv = g.input("qkv", Shape{2, 5, 2, 4, 8});
  const std::string e = error_of<ShapeError>([&] { scaled_dot_product_attention_packed(qkv); });
  EXPECT_TRUE(contains(e, "qkv must be 5-D [N, length, 3, heads, dim] (layout NL3HD), got shape [2,5,2,4,8]")) << e;
}

}  // namespace
