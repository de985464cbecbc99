// The ONNX importer on models built in memory: what it makes of a model, and the errors a
// user sees for corrupt files and for what dagrad does not support.
#include "frontend/onnx/import.h"

#include <gtest/gtest.h>

#include "frontend/onnx/tensor_proto.h"
#include "model_builder.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/rng.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::onnx::testing::ModelBuilder;
using dagrad::onnx::testing::random;
using dagrad::testing::error_of;

namespace {

// Conv(3x3, pad 1) -> Relu -> Flatten -> Gemm(transB) -> LogSoftmax, with a symbolic batch.
ModelBuilder small_cnn() {
  ModelBuilder m(13);
  m.input("x", {-1, 1, 4, 4}).output("y", {-1, 3});
  m.initializer("conv.weight", random(Shape{2, 1, 3, 3}, 1)).initializer("conv.bias", random(Shape{2}, 2));
  m.initializer("fc.weight", random(Shape{3, 32}, 3)).initializer("fc.bias", random(Shape{3}, 4));
  auto& conv = m.node("Conv", {"x", "conv.weight", "conv.bias"}, {"c"}, "conv");
  ModelBuilder::attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  m.node("Relu", {"c"}, {"r"});
  m.node("Flatten", {"r"}, {"f"});
  auto& gemm = m.node("Gemm", {"f", "fc.weight", "fc.bias"}, {"g"});
  ModelBuilder::attr(gemm, "transB", 1);
  m.node("LogSoftmax", {"g"}, {"y"});
  return m;
}

}  // namespace

TEST(OnnxImport, ASmallCnnMatchesTheSameDagradGraph) {
  const dagrad::onnx::Model model = dagrad::onnx::Model::parse(small_cnn().bytes());
  EXPECT_EQ(model.opset(), 13);
  ASSERT_EQ(model.inputs().size(), 1u);
  EXPECT_EQ(model.inputs()[0].dims, (std::vector<int64_t>{-1, 1, 4, 4}));
  dagrad::onnx::Imported im = dagrad::onnx::import_model(model, {{"x", {5, 1, 4, 4}}});
  // Floating initializers are trainable parameters named as in the file.
  std::vector<std::string> names;
  for (const Value& p : im.graph->parameters()) names.push_back(p.producer().name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"conv.bias", "conv.weight", "fc.bias", "fc.weight"}));
  ASSERT_EQ(im.parameters.size(), 4u);

  Graph g;
  Value x = g.input("x", Shape{5, 1, 4, 4});
  auto p = [&](const char* n) { return g.parameter(n, im.parameters.at(n).shape()); };
  Value h = flatten(relu(conv2d(x, p("conv.weight"), p("conv.bias"), {.padding = 1})));
  Value y = log_softmax(linear(h, p("fc.weight"), p("fc.bias")));
  TensorMap bind = im.parameters;
  bind["x"] = random(Shape{5, 1, 4, 4}, 9);
  const std::vector<float> want = interpret(g, std::vector<Value>{y}, bind)[0].to_vector<float>();
  const std::vector<float> got = interpret(*im.graph, im.outputs, bind)[0].to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(OnnxImport, InitializersAsConstants) {
  dagrad::onnx::Imported im = dagrad::onnx::import_model(dagrad::onnx::Model::parse(small_cnn().bytes()), {{"x", {2, 1, 4, 4}}},
                                         dagrad::onnx::Initializers::constants);
  EXPECT_TRUE(im.graph->parameters().empty());
  EXPECT_TRUE(im.parameters.empty());
  EXPECT_EQ(interpret(*im.graph, im.outputs, {{"x", random(Shape{2, 1, 4, 4}, 3)}})[0].shape(), (Shape{2, 3}));
}

// Shape -> Reshape: the target shape is computed from the input's static shape at import.
TEST(OnnxImport, ShapeComputationsFoldAtImport) {
  ModelBuilder m(13);
  m.input("x", {2, 3, 4}).output("y");
  m.initializer("two", Tensor::from_vector<int64_t>(Shape{1}, {2}));
  m.node("Shape", {"x"}, {"s"});
  m.node("Slice", {"s", "zero", "two"}, {"head"});
  m.initializer("zero", Tensor::from_vector<int64_t>(Shape{1}, {0}));
  m.initializer("minus1", Tensor::from_vector<int64_t>(Shape{1}, {-1}));
  ModelBuilder::attr(m.node("Concat", {"head", "minus1"}, {"target"}), "axis", int64_t{0});
  m.node("Reshape", {"x", "target"}, {"y"});
  dagrad::onnx::Imported im = dagrad::onnx::import_model(dagrad::onnx::Model::parse(m.bytes()), {}, dagrad::onnx::Initializers::constants);
  EXPECT_EQ(im.outputs[0].shape(), (Shape{2, 3, 4}));
}

TEST(OnnxImport, CorruptTruncatedAndEmptyFilesAreIoErrors) {
  const std::string bytes = small_cnn().bytes();
  EXPECT_NE(error_of<IoError>([&] { dagrad::onnx::Model::parse(""); }).find("is empty"), std::string::npos);
  EXPECT_NE(error_of<IoError>([&] { dagrad::onnx::Model::parse(bytes.substr(0, bytes.size() / 2)); }).find("corrupt or truncated"),
            std::string::npos);
  EXPECT_NE(error_of<IoError>([&] { dagrad::onnx::Model::parse("definitely not protobuf \xff\xff\xff"); }).find("not a valid"),
            std::string::npos);
  EXPECT_NE(error_of<IoError>([&] { dagrad::onnx::Model::load("/nonexistent/model.onnx"); }).find("/nonexistent/model.onnx"),
            std::string::npos);
}

TEST(OnnxImport, UnsupportedOpsNameTheNodeTheOpAndTheOpset) {
  ModelBuilder m(11);
  m.input("x", {2}).output("y");
  m.node("Frobnicate", {"x"}, {"y"}, "the_op");
  const std::string msg =
      error_of<dagrad::onnx::UnsupportedError>([&] { dagrad::onnx::import_from_memory(m.bytes(), {}, dagrad::onnx::Initializers::constants); });
  EXPECT_NE(msg.find("node 'the_op' (Frobnicate, opset 11)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("it supports Abs, "), std::string::npos) << msg;

  ModelBuilder newer(18);
  newer.input("x", {2}).output("y");
  newer.node("Relu", {"x"}, {"y"});
  EXPECT_NE(error_of<dagrad::onnx::UnsupportedError>([&] { dagrad::onnx::Model::parse(newer.bytes()); }).find("opset 18"),
            std::string::npos);
}

TEST(OnnxImport, SymbolicDimensionsNeedAShape) {
  const dagrad::onnx::Model model = dagrad::onnx::Model::parse(small_cnn().bytes());
  EXPECT_NE(error_of<ValueError>([&] { dagrad::onnx::import_model(model); }).find("'x' has a symbolic dimension"),
            std::string::npos);
  EXPECT_THROW(dagrad::onnx::import_model(model, {{"x", {5, 1, 5, 5}}}), ShapeError);  // does not fit [N,1,4,4]
}

TEST(OnnxImport, ComputedShapesAreUnsupported) {
  ModelBuilder m(13);
  m.input("x", {2, 3}).input("shape", {2}, ::onnx::TensorProto::INT64).output("y");
  m.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
  const std::string msg = error_of<dagrad::onnx::UnsupportedError>([&] { dagrad::onnx::import_from_memory(m.bytes()); });
  EXPECT_NE(msg.find("node 'reshape' (Reshape, opset 13): its target shape (input 1) is computed in the graph"),
            std::string::npos)
      << msg;
}

TEST(OnnxImport, UndefinedValuesAndUnknownAttributesAreErrors) {
  ModelBuilder m(13);
  m.input("x", {2}).output("y");
  m.node("Relu", {"nowhere"}, {"y"}, "relu");
  EXPECT_NE(error_of<ValueError>([&] { dagrad::onnx::import_from_memory(m.bytes()); }).find("reads 'nowhere'"),
            std::string::npos);
  ModelBuilder a(13);
  a.input("x", {2}).output("y");
  ModelBuilder::attr(a.node("Relu", {"x"}, {"y"}, "relu"), "mystery", 1);
  EXPECT_NE(error_of<dagrad::onnx::UnsupportedError>([&] { dagrad::onnx::import_from_memory(a.bytes()); }).find("'mystery'"),
            std::string::npos);
}

// Found by scripts/fuzz.sh: a pool without kernel_shape indexed an empty list, and a Conv
// whose weight has rank 1 took its kernel sizes from past the weight's shape.
TEST(OnnxImport, AWindowNeedsOneKernelSizePerSpatialDimension) {
  ModelBuilder pool(13);
  pool.input("x", {1, 3, 8, 8}).output("y");
  pool.node("MaxPool", {"x"}, {"y"}, "pool");
  std::string msg = error_of<ValueError>([&] { dagrad::onnx::import_from_memory(pool.bytes()); });
  EXPECT_NE(msg.find("node 'pool' (MaxPool, opset 13): kernel_shape [] must give one size per spatial dimension of "
                     "the input [1,3,8,8]"),
            std::string::npos)
      << msg;
  ModelBuilder conv(13);
  conv.input("x", {1, 1, 8, 8}).output("y").initializer("w", random(Shape{2, 1, 3, 3}, 5));
  ModelBuilder::attr(conv.node("Conv", {"x", "w"}, {"y"}, "conv"), "kernel_shape", std::vector<int64_t>{3});
  msg = error_of<ValueError>([&] { dagrad::onnx::import_from_memory(conv.bytes()); });
  EXPECT_NE(msg.find("kernel_shape [3] must give one size"), std::string::npos) << msg;
  ModelBuilder flat(13);  // a weight of rank 1 has no kernel sizes to default to
  flat.input("x", {1, 1, 8, 8}).output("y").initializer("w", random(Shape{9}, 6));
  flat.node("Conv", {"x", "w"}, {"y"}, "conv");
  msg = error_of<ValueError>([&] { dagrad::onnx::import_from_memory(flat.bytes()); });
  EXPECT_NE(msg.find("the weight [9] must have the input's rank (input [1,1,8,8])"), std::string::npos) << msg;
}

// Found by scripts/fuzz.sh: Softmax before opset 13 multiplied the dimensions before an
// axis past the input's rank.
TEST(OnnxImport, AxesOutsideTheRankAreErrors) {
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax", "ArgMax"}) {
    SCOPED_TRACE(op);
    ModelBuilder m(11);
    m.input("x", {2, 3}).output("y");
    ModelBuilder::attr(m.node(op, {"x"}, {"y"}, "n"), "axis", 5);
    const std::string msg = error_of<ValueError>([&] { dagrad::onnx::import_from_memory(m.bytes()); });
    EXPECT_NE(msg.find("axis 5 is out of range for rank 2"), std::string::npos) << msg;
  }
}

// Found by scripts/fuzz.sh: a tensor's dims were allocated before its data was counted, so
// a few bytes of a model could ask for gigabytes (or overflow the element count).
TEST(OnnxImport, TensorsAreCheckedBeforeTheyAreAllocated) {
  ::onnx::TensorProto p;
  p.set_name("huge");
  p.set_data_type(::onnx::TensorProto::FLOAT);
  p.add_dims(2000000000);
  p.add_dims(4);
  std::string msg = error_of<IoError>([&] { dagrad::onnx::tensor_from_proto(p); });
  EXPECT_NE(msg.find("ONNX tensor 'huge' has 0 values for shape [2000000000,4] (8000000000 elements)"),
            std::string::npos)
      << msg;
  p.add_dims(int64_t{1} << 40);
  msg = error_of<IoError>([&] { dagrad::onnx::tensor_from_proto(p); });
  EXPECT_NE(msg.find("has more elements than 64 bits can count"), std::string::npos) << msg;
  p.clear_dims();
  p.add_dims(int64_t{1} << 31);
  p.add_dims(int64_t{1} << 31);
  p.set_raw_data("abcd");
  msg = error_of<IoError>([&] { dagrad::onnx::tensor_from_proto(p); });
  EXPECT_NE(msg.find("has more bytes than 64 bits can count"), std::string::npos) << msg;
}
