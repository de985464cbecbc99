// Whole models, built with the ops.h builders: the gradient of the loss with respect to
// every parameter against central finite differences (float64, a sample of elements).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/grad.h"
#include "finite_diff.h"
#include "ops/ops.h"
#include "tests/ops/op_cases.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

// A parameter initialised like PyTorch: uniform in ±1/sqrt(fan_in); one seed per parameter.
Value param(Graph& g, TensorMap& bind, const std::string& name, const Shape& shape, int64_t fan_in) {
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  bind[name] = random_tensor(shape, DType::f64, 1000 + g.num_nodes(), -bound, bound, false);
  return g.parameter(name, shape, DType::f64);
}

// Differentiates `loss` w.r.t. every trainable parameter (and `extra`) and checks a
// sample of each gradient's elements.
void check_model(Graph& g, Value loss, const TensorMap& bind, std::vector<Value> extra = {}) {
  std::vector<Value> wrt = g.parameters();
  wrt.insert(wrt.end(), extra.begin(), extra.end());
  std::vector<Value> grads = autograd::grad(g, loss, wrt);
  std::vector<Tensor> got = run(g, grads, bind);
  for (size_t k = 0; k < wrt.size(); ++k) {
    const std::string& name = wrt[k].producer().name;
    std::vector<int64_t> idx = sample_indices(got[k].numel(), 8, 100 + k);
    EXPECT_TRUE(matches_finite_differences(g, loss, bind, name, got[k], idx));
  }
}

}  // namespace

// The MNIST CNN, scaled down: 12x12 inputs, 4 and 8 channels, a hidden layer of 16.
// Dropout masks are a function of (seed, step, index), so with the step fixed the loss
// is a smooth function of the parameters away from relu/max kinks.
TEST(ModelGradient, MnistCnn) {
  Graph g;
  TensorMap bind;
  Value x = g.input("x", Shape{2, 1, 12, 12}, DType::f64);
  Value labels = g.input("labels", Shape{2}, DType::i64);
  bind["x"] = random_tensor(Shape{2, 1, 12, 12}, DType::f64, 1, 0.0, 1.0, false);
  bind["labels"] = random_labels(2, 10, 2);
  Value c1w = param(g, bind, "conv1.weight", Shape{4, 1, 3, 3}, 9);
  Value c1b = param(g, bind, "conv1.bias", Shape{4}, 9);
  Value c2w = param(g, bind, "conv2.weight", Shape{8, 4, 3, 3}, 36);
  Value c2b = param(g, bind, "conv2.bias", Shape{8}, 36);
  Value f1w = param(g, bind, "fc1.weight", Shape{16, 128}, 128);
  Value f1b = param(g, bind, "fc1.bias", Shape{16}, 128);
  Value f2w = param(g, bind, "fc2.weight", Shape{10, 16}, 16);
  Value f2b = param(g, bind, "fc2.bias", Shape{10}, 16);

  Value h = relu(conv2d(x, c1w, c1b));                 // [2,4,10,10]
  h = relu(conv2d(h, c2w, c2b));                       // [2,8,8,8]
  h = dropout(max_pool2d(h, {.kernel = 2}), 0.25, 7);  // [2,8,4,4]
  h = relu(linear(flatten(h), f1w, f1b));              // [2,16]
  h = linear(dropout(h, 0.5, 8), f2w, f2b);            // [2,10]
  Value loss = nll_loss(log_softmax(h), labels);
  check_model(g, loss, bind, {x});
}

TEST(ModelGradient, Mlp) {
  Graph g;
  TensorMap bind;
  Value x = g.input("x", Shape{8, 20}, DType::f64);
  Value labels = g.input("labels", Shape{8}, DType::i64);
  bind["x"] = random_tensor(Shape{8, 20}, DType::f64, 3);
  bind["labels"] = random_labels(8, 5, 4);
  Value w1 = param(g, bind, "fc1.weight", Shape{32, 20}, 20);
  Value b1 = param(g, bind, "fc1.bias", Shape{32}, 20);
  Value w2 = param(g, bind, "fc2.weight", Shape{16, 32}, 32);
  Value b2 = param(g, bind, "fc2.bias", Shape{16}, 32);
  Value w3 = param(g, bind, "fc3.weight", Shape{5, 16}, 16);
  Value b3 = param(g, bind, "fc3.bias", Shape{5}, 16);

  Value h = relu(linear(x, w1, b1));
  h = tanh(linear(h, w2, b2));
  Value loss = softmax_cross_entropy(linear(h, w3, b3), labels);
  check_model(g, loss, bind, {x});
}
