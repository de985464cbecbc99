#include <gtest/gtest.h>

#include <cmath>

#include "frontend/nn.h"
#include "models/models.h"
#include "ops/interpreter.h"

using namespace dagrad;

TEST(NnModules, MnistCnnHasPyTorchParameterNamesAndShapes) {
  auto model = models::mnist_cnn();
  std::vector<nn::ParamSpec> specs = nn::parameter_specs(*model);
  std::vector<std::pair<std::string, Shape>> want = {
      {"conv1.weight", Shape{32, 1, 3, 3}}, {"conv1.bias", Shape{32}},   {"conv2.weight", Shape{64, 32, 3, 3}},
      {"conv2.bias", Shape{64}},            {"fc1.weight", Shape{128, 9216}}, {"fc1.bias", Shape{128}},
      {"fc2.weight", Shape{10, 128}},       {"fc2.bias", Shape{10}}};
  ASSERT_EQ(specs.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(specs[i].name, want[i].first);
    EXPECT_EQ(specs[i].shape, want[i].second);
  }
  EXPECT_EQ(nn::count_parameters(*model), 1199882);  // as torchsummary reports for this model
}

TEST(NnModules, InitIsSeededAndWithinPyTorchBounds) {
  auto model = models::mnist_cnn();
  TensorMap a = nn::init_parameters(*model, 7), b = nn::init_parameters(*model, 7), c = nn::init_parameters(*model, 8);
  EXPECT_EQ(a.at("fc1.weight").to_vector<float>(), b.at("fc1.weight").to_vector<float>());
  EXPECT_NE(a.at("fc1.weight").to_vector<float>(), c.at("fc1.weight").to_vector<float>());
  EXPECT_NE(a.at("fc1.weight").to_vector<float>()[0], a.at("fc2.weight").to_vector<float>()[0]);
  // kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in(conv2) = 32*3*3.
  double bound = 1 / std::sqrt(288.0), max_abs = 0;
  for (float v : a.at("conv2.weight").to_vector<float>()) max_abs = std::max(max_abs, std::abs(double(v)));
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.9 * bound);  // uses the whole range
}

TEST(NnModules, MnistCnnForwardRunsOnABatch) {
  auto model = models::mnist_cnn();
  model->train(false);
  Graph g;
  Value x = g.input("x", Shape{3, 1, 28, 28});
  Value log_probs = (*model)(x);
  EXPECT_EQ(log_probs.shape(), (Shape{3, 10}));
  TensorMap bind = nn::init_parameters(*model, 1);
  Tensor images = Tensor::empty(Shape{3, 1, 28, 28});
  Generator gen(3);
  fill_uniform(images, gen, -1, 2);
  bind["x"] = images;
  Tensor out = interpret(g, std::vector<Value>{log_probs}, bind)[0];
  for (int r = 0; r < 3; ++r) {
    double total = 0;
    for (int c = 0; c < 10; ++c) total += std::exp(double(out.data<float>()[r * 10 + c]));
    EXPECT_NEAR(total, 1.0, 1e-5);  // log_softmax rows
  }
}

TEST(NnModules, ShapeErrorsNameTheOpAndShapes) {
  Graph g;
  Value x = g.input("x", Shape{2, 3, 28, 28});  // 3 channels; conv1 expects 1
  auto model = models::mnist_cnn();
  try {
    (*model)(x);
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("[conv2d]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 channels"), std::string::npos) << msg;
  }
}

// A layer built with the wrong size is reported at the line that declared it, not
// inside the module library.
TEST(NnModules, ShapeErrorsPointAtTheLineThatDeclaredTheLayer) {
  Graph g;
  Value x = g.input("x", Shape{2, 1, 28, 28});
  const int line = __LINE__ + 2;
  nn::Sequential net("net", {nn::conv2d("conv", 1, 4, 3), nn::relu(), nn::flatten(),
                             nn::linear("fc", 100, 10)});  // flatten gives 4*26*26 = 2704 features
  try {
    net(x);
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("(at nn_test.cpp:" + std::to_string(line) + ")"), std::string::npos) << msg;
    EXPECT_NE(msg.find("2704"), std::string::npos) << msg;
  }
}

TEST(NnModules, LeNetAndMlpBuild) {
  for (const char* name : {"lenet5", "mlp"}) {
    Graph g;
    Value x = g.input("x", Shape{2, 1, 28, 28});
    EXPECT_EQ((*models::make_model(name))(x).shape(), (Shape{2, 10})) << name;
  }
  EXPECT_THROW(models::make_model("resnet"), ValueError);
}
