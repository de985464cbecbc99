// A custom op in a model, with its gradient checked numerically:
//
//   custom_op
//
// registers squareplus (squareplus_op.cpp), builds a two-layer model that uses it twice, and
// compares autograd's gradients with central finite differences in float64, running both
// on the plain interpreter. Then it compiles the same graph with the scheduler and checks
// that the scheduled run agrees. Exits 1 if anything disagrees.
#include <dagrad/dagrad.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "squareplus_op.h"

using namespace dagrad;

namespace {

constexpr double kEps = 1e-6;  // central differences: error ~ eps² f''' + 1e-16 |L| / eps
constexpr double kTol = 1e-6;  // |autograd - fd| <= kTol * (1 + |fd|)

double run_loss(const Graph& g, Value loss, const TensorMap& bindings) {
  return interpret(g, std::vector<Value>{loss}, bindings)[0].data<double>()[0];
}

// d loss / d bindings[name][i] by (L(x + eps) - L(x - eps)) / 2 eps.
double central_difference(const Graph& g, Value loss, const TensorMap& bindings, const std::string& name, int64_t i) {
  TensorMap shifted = bindings;  // shallow: only the perturbed tensor is copied
  Tensor x = bindings.at(name).clone();
  shifted[name] = x;
  double* p = x.data<double>();
  const double x0 = p[i];
  p[i] = x0 + kEps;
  const double up = run_loss(g, loss, shifted);
  p[i] = x0 - kEps;
  const double down = run_loss(g, loss, shifted);
  return (up - down) / (2 * kEps);
}

Tensor random_f64(const Shape& shape, Generator& gen) {
  Tensor t = Tensor::empty(shape, DType::f64);
  fill_normal(t, gen, 0.0, 1.0);
  return t;
}

}  // namespace

int main() try {
  register_squareplus();
  std::cout << "registered: squareplus — " << op_def("squareplus").doc << "\n";

  // Errors name the op and the user's line, like the built-in ops'.
  {
    Graph scratch;
    Value ids = scratch.input("ids", Shape{4}, DType::i64);
    try {
      squareplus(ids);
      std::cerr << "custom_op: squareplus accepted an int64 input\n";
      return 1;
    } catch (const TypeError& e) {
      std::cout << "squareplus of int64 ids is refused: " << e.what() << "\n";
    }
  }

  // ---- the model: x [4,5] → linear 5→6 → squareplus(b=2) → linear 6→3 → cross-entropy ----
  // The hidden activations also feed a penalty through squareplus, so gradients meet at a
  // fan-out and autograd sums them.
  Graph g;
  Value x = g.input("x", Shape{4, 5}, DType::f64);
  Value labels = g.input("labels", Shape{4}, DType::i64);
  Value w1 = g.parameter("w1", Shape{6, 5}, DType::f64);
  Value b1 = g.parameter("b1", Shape{6}, DType::f64);
  Value w2 = g.parameter("w2", Shape{3, 6}, DType::f64);
  Value b2 = g.parameter("b2", Shape{3}, DType::f64);
  Value h = squareplus(linear(x, w1, b1), 2.0);
  Value logits = linear(h, w2, b2);
  Value loss = softmax_cross_entropy(logits, labels) + 0.1 * mean(squareplus(h - 1.0));

  const std::vector<Value> wrt{x, w1, b1, w2, b2};
  const std::vector<std::string> names{"x", "w1", "b1", "w2", "b2"};
  std::vector<Value> grads = autograd::grad(g, loss, wrt);

  Generator gen(2024);
  TensorMap bindings{{"x", random_f64(Shape{4, 5}, gen)},   {"w1", random_f64(Shape{6, 5}, gen)},
                     {"b1", random_f64(Shape{6}, gen)},      {"w2", random_f64(Shape{3, 6}, gen)},
                     {"b2", random_f64(Shape{3}, gen)},
                     {"labels", Tensor::from_vector<int64_t>(Shape{4}, {0, 2, 1, 2})}};

  // ---- autograd against finite differences, on the interpreter ----
  std::vector<Tensor> analytic = interpret(g, grads, bindings);
  std::printf("loss %.10f\n", run_loss(g, loss, bindings));
  bool ok = true;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const double* a = analytic[k].data<double>();
    double worst = 0;
    for (int64_t i = 0; i < analytic[k].numel(); ++i) {
      const double fd = central_difference(g, loss, bindings, names[k], i);
      const double err = std::abs(a[i] - fd) / (1 + std::abs(fd));
      worst = std::isfinite(err) ? std::max(worst, err) : INFINITY;
    }
    const bool pass = worst <= kTol;
    ok = ok && pass;
    std::printf("d loss/d %-2s %-7s max error %.2e  %s\n", names[k].c_str(), wrt[k].shape().to_string().c_str(), worst,
                pass ? "ok" : "FAILED");
  }

  // ---- the same graph, scheduled (ordered, fused, memory-planned) ----
  std::vector<Value> outputs{loss};
  outputs.insert(outputs.end(), grads.begin(), grads.end());
  scheduler::Executor executor(scheduler::compile(g, outputs));
  executor.bind(bindings);
  std::vector<Tensor> scheduled = executor.run();
  std::vector<Tensor> reference = interpret(g, outputs, bindings);
  double worst = 0;
  for (size_t k = 0; k < outputs.size(); ++k)
    for (int64_t i = 0; i < reference[k].numel(); ++i) {
      const double want = reference[k].data<double>()[i], got = scheduled[k].data<double>()[i];
      worst = std::max(worst, std::abs(got - want) / (1 + std::abs(want)));
    }
  const bool same = worst <= 1e-12;
  ok = ok && same;
  std::printf("scheduled plan (%s): max difference from the interpreter %.2e  %s\n",
              executor.plan().summary().c_str(), worst, same ? "ok" : "FAILED");

  std::cout << (ok ? "gradient check passed\n" : "gradient check FAILED\n");
  return ok ? 0 : 1;
} catch (const dagrad::Error& e) {
  std::cerr << "custom_op: " << e.what() << "\n";
  return 1;
}
