// Differentiating gradients: backward is ordinary graph, so grad() applies again.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "autograd/grad.h"
#include "finite_diff.h"
#include "ops/ops.h"
#include "tests/ops/op_cases.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

std::vector<double> values(const Tensor& t) { return to_f64(t).to_vector<double>(); }

void expect_elementwise(const Tensor& got, const Tensor& x, const std::function<double(double)>& f,
                        const char* what) {
  std::vector<double> g = values(got), xs = values(x);
  ASSERT_EQ(g.size(), xs.size()) << what;
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_NEAR(g[i], f(xs[i]), 1e-12 * (1 + std::abs(f(xs[i])))) << what << " at x = " << xs[i];
}

// f is elementwise, so d²(Σf)/dx² is diagonal and grad(sum(f'(x)), x) = f''(x).
struct Derivatives {
  Value first, second;
};
Derivatives first_and_second(Graph& g, Value x, Value f) {
  Value d1 = autograd::grad(g, sum(f), {x})[0];
  Value d2 = autograd::grad(g, sum(d1), {x})[0];
  return {d1, d2};
}

// The first and second derivatives of the elementwise f (written with ops) at n random
// points of [lo, hi), drawn with `seed`, against d1 and d2.
void expect_first_two_derivatives(const char* what, const std::function<Value(Value)>& f,
                                  const std::function<double(double)>& d1, const std::function<double(double)>& d2,
                                  int64_t n, uint64_t seed, double lo, double hi) {
  Graph g;
  Value x = g.input("x", Shape{n}, DType::f64);
  Derivatives d = first_and_second(g, x, f(x));
  TensorMap bind{{"x", random_tensor(Shape{n}, DType::f64, seed, lo, hi)}};
  std::vector<Value> outs{d.first, d.second};
  std::vector<Tensor> got = run(g, outs, bind);
  expect_elementwise(got[0], bind["x"], d1, str_cat("d/dx ", what).c_str());
  expect_elementwise(got[1], bind["x"], d2, str_cat("d²/dx² ", what).c_str());
}

}  // namespace

TEST(SecondOrder, Cube) {
  Graph g;
  Value x = g.input("x", Shape{7}, DType::f64);
  auto [d1, d2] = first_and_second(g, x, mul(mul(x, x), x));
  Value d3 = autograd::grad(g, sum(d2), {x})[0];
  TensorMap bind{{"x", random_tensor(Shape{7}, DType::f64, 1, -2, 2)}};
  std::vector<Value> outs{d1, d2, d3};
  std::vector<Tensor> got = run(g, outs, bind);
  expect_elementwise(got[0], bind["x"], [](double v) { return 3 * v * v; }, "d/dx x³");
  expect_elementwise(got[1], bind["x"], [](double v) { return 6 * v; }, "d²/dx² x³");
  expect_elementwise(got[2], bind["x"], [](double) { return 6.0; }, "d³/dx³ x³");
}

TEST(SecondOrder, CubeThroughPow) {
  expect_first_two_derivatives(
      "pow(x, 3)", [](Value x) { return pow(x, 3.0); }, [](double v) { return 3 * v * v; },
      [](double v) { return 6 * v; }, 5, 2, 0.2, 2);
}

TEST(SecondOrder, Exp) {
  expect_first_two_derivatives(
      "exp", [](Value x) { return exp(x); }, [](double v) { return std::exp(v); }, [](double v) { return std::exp(v); },
      6, 3, -2, 2);
}

TEST(SecondOrder, Sigmoid) {
  auto s = [](double v) { return 1 / (1 + std::exp(-v)); };
  expect_first_two_derivatives(
      "sigmoid", [](Value x) { return sigmoid(x); }, [&](double v) { return s(v) * (1 - s(v)); },
      [&](double v) { return s(v) * (1 - s(v)) * (1 - 2 * s(v)); }, 6, 4, -3, 3);
}

TEST(SecondOrder, Tanh) {
  expect_first_two_derivatives(
      "tanh", [](Value x) { return tanh(x); }, [](double v) { return 1 - std::tanh(v) * std::tanh(v); },
      [](double v) { return -2 * std::tanh(v) * (1 - std::tanh(v) * std::tanh(v)); }, 6, 5, -2, 2);
}

// f = Σ x²·y: ∂f/∂x = 2xy, ∂f/∂y = x², ∂²f/∂x² = 2y, ∂²f/∂x∂y = 2x, ∂²f/∂y² = 0.
TEST(SecondOrder, MixedPartials) {
  Graph g;
  Value x = g.input("x", Shape{2, 3}, DType::f64);
  Value y = g.input("y", Shape{2, 3}, DType::f64);
  Value f = sum(mul(mul(x, x), y));
  std::vector<Value> d = autograd::grad(g, f, {x, y});
  std::vector<Value> dx = autograd::grad(g, sum(d[0]), {x, y});
  std::vector<Value> dy = autograd::grad(g, sum(d[1]), {x, y});
  TensorMap bind{{"x", random_tensor(Shape{2, 3}, DType::f64, 6)}, {"y", random_tensor(Shape{2, 3}, DType::f64, 7)}};
  std::vector<Value> outs{d[0], d[1], dx[0], dx[1], dy[0], dy[1]};
  std::vector<Tensor> got = run(g, outs, bind);
  std::vector<double> xs = values(bind["x"]), ys = values(bind["y"]);
  for (size_t i = 0; i < xs.size(); ++i) {
    double want[6] = {2 * xs[i] * ys[i], xs[i] * xs[i], 2 * ys[i], 2 * xs[i], 2 * xs[i], 0.0};
    for (int k = 0; k < 6; ++k)
      EXPECT_NEAR(values(got[k])[i], want[k], 1e-12 * (1 + std::abs(want[k])))
          << "derivative " << k << " element " << i;
  }
}

namespace {

// H·v against central differences of the gradient along v:
// (∇L(θ + εv) - ∇L(θ - εv)) / 2ε, with random v, for every parameter at once.
// ε = 1e-5: truncation ε²·|∇⁴L| ~ 1e-10, rounding u·|∇L|/ε ~ 1e-11.
void check_hvp(Graph& g, Value loss, const std::vector<Value>& params, TensorMap bind) {
  std::vector<Value> vs;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = params[i].producer().name;
    bind["v_" + name] = random_tensor(params[i].shape(), DType::f64, 30 + i);
    vs.push_back(g.input("v_" + name, params[i].shape(), DType::f64));
  }
  std::vector<Value> hv = autograd::hvp(g, loss, params, vs);
  std::vector<Value> grads = autograd::grad(g, loss, params);
  std::vector<Tensor> got = run(g, hv, bind);

  const double eps = 1e-5;
  auto shifted = [&](double sign) {
    TensorMap b = bind;
    for (const Value& p : params) {
      const std::string& name = p.producer().name;
      Tensor t = bind[name].clone();
      const double* v = bind["v_" + name].data<double>();
      for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] += sign * eps * v[i];
      b[name] = t;
    }
    return run(g, grads, b);
  };
  std::vector<Tensor> up = shifted(1), down = shifted(-1);
  for (size_t k = 0; k < params.size(); ++k) {
    double worst = 0;
    int64_t worst_i = 0;
    for (int64_t i = 0; i < got[k].numel(); ++i) {
      double want = (up[k].data<double>()[i] - down[k].data<double>()[i]) / (2 * eps);
      double err = std::abs(got[k].data<double>()[i] - want) / (1 + std::abs(want));
      if (!(err <= worst)) worst = err, worst_i = i;
    }
    EXPECT_LE(worst, kFdTol) << "H·v for " << params[k].producer().name << ": max error at element " << worst_i;
  }
}

Value param(Graph& g, TensorMap& bind, const std::string& name, const Shape& shape, double scale = 1.0) {
  bind[name] = random_tensor(shape, DType::f64, 20 + g.num_nodes(), -scale, scale);
  return g.parameter(name, shape, DType::f64);
}

}  // namespace

// A small MLP: linear → tanh → linear → sum of squares.
TEST(SecondOrder, HvpOfAnMlpMatchesFiniteDifferencesOfGradients) {
  Graph g;
  TensorMap bind{{"x", random_tensor(Shape{4, 3}, DType::f64, 10)}};
  Value x = g.input("x", Shape{4, 3}, DType::f64);
  std::vector<Value> params{param(g, bind, "w1", Shape{5, 3}), param(g, bind, "b1", Shape{5}),
                            param(g, bind, "w2", Shape{2, 5}), param(g, bind, "b2", Shape{2})};
  Value o = linear(tanh(linear(x, params[0], params[1])), params[2], params[3]);
  check_hvp(g, sum(mul(o, o)), params, bind);
}

// Second order through every rule of the scaled-down MNIST CNN (conv, relu, max pooling,
// dropout, linear, log_softmax, nll_loss): their vjps must themselves be differentiable.
TEST(SecondOrder, HvpOfACnnMatchesFiniteDifferencesOfGradients) {
  Graph g;
  TensorMap bind{{"x", random_tensor(Shape{2, 1, 8, 8}, DType::f64, 11, 0.0, 1.0, false)},
                 {"labels", random_labels(2, 5, 12)}};
  Value x = g.input("x", Shape{2, 1, 8, 8}, DType::f64);
  Value labels = g.input("labels", Shape{2}, DType::i64);
  std::vector<Value> params{param(g, bind, "conv.weight", Shape{3, 1, 3, 3}, 0.3),
                            param(g, bind, "conv.bias", Shape{3}, 0.3),
                            param(g, bind, "fc.weight", Shape{5, 27}, 0.2), param(g, bind, "fc.bias", Shape{5}, 0.2)};
  Value h = max_pool2d(relu(conv2d(x, params[0], params[1])), {.kernel = 2});  // [2,3,3,3]
  h = linear(dropout(flatten(h), 0.25, 3), params[2], params[3]);
  check_hvp(g, nll_loss(log_softmax(h), labels), params, bind);
}

// batch_norm_backward has three outputs; differentiating dL/dx alone leaves two of them
// without a gradient, which its vjp must accept.
TEST(SecondOrder, HvpThroughBatchNorm) {
  Graph g;
  TensorMap bind{{"x", random_tensor(Shape{6, 4}, DType::f64, 13)},
                 {"w", random_tensor(Shape{6, 4}, DType::f64, 14)},
                 {"running_mean", Tensor::zeros(Shape{4}, DType::f64)},
                 {"running_var", Tensor::full(Shape{4}, 1.0, DType::f64)}};
  Value x = g.input("x", Shape{6, 4}, DType::f64);
  Value w = g.input("w", Shape{6, 4}, DType::f64);
  Value rm = g.input("running_mean", Shape{4}, DType::f64);
  Value rv = g.input("running_var", Shape{4}, DType::f64);
  std::vector<Value> params{param(g, bind, "gamma", Shape{4}), param(g, bind, "beta", Shape{4})};
  Value y = batch_norm(x, params[0], params[1], rm, rv, /*training=*/true);
  check_hvp(g, sum(mul(tanh(y), w)), params, bind);
}
