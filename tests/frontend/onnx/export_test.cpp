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
using dagrad::testing::error_of;

namespace {

Tensor random(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  Generator g(seed);
  fill_uniform(t, g, -1.0, 1.0);
  return t;
}

// Exports (g, out), imports the bytes again and compares both graphs' outputs on `x`.
void expect_round_trip(const Graph& g, Value out, const TensorMap& state, const std::string& input,
                       const Tensor& x) {
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
  EXPECT_EQ(got.to_vector<float>(), want.to_vector<float>());  // the same ops on the same values
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
    expect_round_trip(g, y, nn::init_parameters(*model, 3), "images", random(Shape{2, 1, 28, 28}, 2));
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
