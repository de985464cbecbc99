// dagrad graphs exported to ONNX: ONNX's checker accepts them and importing them again
// gives the same outputs (the MNIST CNN, and a model that was itself imported).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "frontend/onnx/export.h"
#include "frontend/onnx/import.h"
#include "model_builder.h"
#include "models/models.h"
#include "ops/ops.h"
#include "runtime/rng.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::onnx::testing::random;
using dagrad::testing::error_of;

namespace {

// Exports (g, out), imports the bytes again and compares both graphs' outputs on `x`:
// equal, or within `tolerance` where an op is exported as a composition of others.
void expect_round_trip(const Graph& g, Value out, const TensorMap& state, const std::string& input,
                       const Tensor& x, double tolerance = 0) {
  const std::string bytes = dagrad::onnx::export_to_bytes(g, std::vector<Value>{out}, state);
  EXPECT_EQ(dagrad::onnx::check_with_onnx(bytes), "");
  dagrad::onnx::Imported im = dagrad::onnx::import_from_memory(bytes);
  TensorMap bind = state;
  bind[input] = x;
  const Tensor want = interpret(g, std::vector<Value>{out}, bind)[0];
  TensorMap bind2 = im.parameters;
  bind2[input] = x;
  const Tensor got = interpret(*im.graph, im.outputs, bind2)[0];
  ASSERT_EQ(got.shape(), want.shape());
  if (tolerance == 0) {
    EXPECT_EQ(got.to_vector<float>(), want.to_vector<float>());  // the same ops on the same values
    return;
  }
  const std::vector<float> a = got.to_vector<float>(), b = want.to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tolerance) << "element " << i;
}

}  // namespace

TEST(OnnxExport, MnistCnnRoundTrips) {
  auto model = models::mnist_cnn();
  model->train(false);
  Graph g;
  Value x = g.input("images", Shape{3, 1, 28, 28});
  Value y = (*model)(x);
  expect_round_trip(g, y, nn::init_parameters(*model, 7), "images", random(Shape{3, 1, 28, 28}, 1));
}

TEST(OnnxExport, EveryBuiltInModelPassesTheChecker) {
  for (const std::string& name : models::model_names()) {
    SCOPED_TRACE(name);
    auto model = models::make_model(name);
    model->train(false);
    Graph g;
    Value y = (*model)(g.input("images", Shape{2, 1, 28, 28}));
    // mnist-vit's fused attention is exported written out (ONNX has no attention op up
    // to opset 17), so its outputs agree to rounding only.
    const double tolerance = name == "mnist-vit" ? 1e-5 : 0;
    expect_round_trip(g, y, nn::init_parameters(*model, 3), "images", random(Shape{2, 1, 28, 28}, 2), tolerance);
  }
}

// gather and layer_norm export as ONNX's Gather and LayerNormalization, which import as
// the same ops (an epsilon a float holds exactly, as ONNX stores it as one).
TEST(OnnxExport, GatherAndLayerNormRoundTrip) {
  Graph g;
  Value x = g.input("x", Shape{5, 8});
  Value ids = constant(g, Tensor::from_vector<int64_t>(Shape{2, 3}, {4, 0, 2, 2, 1, -1}));
  Value y = layer_norm(gather(x, ids, 0), {}, {}, -1, 1.0 / 1024);
  expect_round_trip(g, y, {}, "x", random(Shape{5, 8}, 4));
}

// Fused attention (here causal, with an additive mask) is written out as MatMul, Softmax
// and MatMul; the imported composition agrees to rounding.
TEST(OnnxExport, AttentionIsWrittenOut) {
  for (const char* layout : {"NHLD", "NLHD"}) {
    SCOPED_TRACE(layout);
    Graph g;
    Value x = g.input("x", Shape{2, 3, 3, 4});
    Value mask = constant(g, random(Shape{3, 3}, 8));
    Value y = std::string(layout) == "NHLD" ? scaled_dot_product_attention(x, x * 0.5, x, mask, 0, true)
                                            : scaled_dot_product_attention_nlhd(x, x * 0.5, x, mask, 0, true);
    expect_round_trip(g, y, {}, "x", random(Shape{2, 3, 3, 4}, 9), 1e-5);
  }
}

TEST(OnnxExport, AnImportedModelRoundTrips) {
  dagrad::onnx::testing::ModelBuilder m(13);
  m.input("x", {2, 1, 6, 6}).output("y");
  m.initializer("w", random(Shape{3, 1, 3, 3}, 5));
  auto& conv = m.node("Conv", {"x", "w"}, {"c"});
  dagrad::onnx::testing::ModelBuilder::attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  m.node("Sigmoid", {"c"}, {"s"});
  auto& pool = m.node("AveragePool", {"s"}, {"y"});
  dagrad::onnx::testing::ModelBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  dagrad::onnx::testing::ModelBuilder::attr(pool, "strides", std::vector<int64_t>{2, 2});
  dagrad::onnx::Imported im = dagrad::onnx::import_from_memory(m.bytes());
  expect_round_trip(*im.graph, im.outputs[0], im.parameters, "x", random(Shape{2, 1, 6, 6}, 6));
}

// cast is ONNX's Cast: float16 rounding survives the round trip (and the import runs it
// in the graph).
TEST(OnnxExport, CastsRoundTrip) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value y = cast(cast(x, DType::f16), DType::f32) * 3.0;
  expect_round_trip(g, y, {}, "x", random(Shape{2, 3}, 8));
}

TEST(OnnxExport, TrainingOnlyOpsAreRefused) {
  Graph g;
  Value x = g.input("x", Shape{4, 8});
  Value y = dropout(x, 0.5, 1, /*training=*/true);
  EXPECT_NE(error_of<dagrad::onnx::UnsupportedError>([&] { dagrad::onnx::export_to_bytes(g, std::vector<Value>{y}, {}); })
                .find("training mode"),
            std::string::npos);
}

TEST(OnnxExport, WritesAtomicallyAfterTheChecker) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value y = relu(x) * 2.0;
  const auto path = std::filesystem::temp_directory_path() / str_cat("dagrad-export-", ::getpid(), ".onnx");
  dagrad::onnx::export_model(g, std::vector<Value>{y}, {}, path);
  EXPECT_EQ(dagrad::onnx::Model::load(path).inputs().size(), 1u);
  std::filesystem::remove(path);
}
