#include "random_graph.h"

#include <random>
#include <string>

#include "ops/ops.h"
#include "runtime/rng.h"

namespace dagrad::scheduler::testing {

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = 2.0 * (random_bits(seed, i) / 4294967296.0) - 1.0;
  return dtype == DType::f64 ? t : t.to_dtype(dtype);
}

}  // namespace

// Every value has a shape from one broadcast family: [M,N], [1,N], [N], [M,1] or [], so
// any two combine. Parameters are only read directly (never through views) so that the
// interpreter's order around their in-place updates is unambiguous.
RandomGraph make_random_graph(uint64_t seed, DType dtype) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  RandomGraph rg;
  rg.graph = std::make_unique<Graph>();
  Graph& g = *rg.graph;
  const int64_t m = uniform(1, 6), n = uniform(1, 9);
  const Shape family[] = {Shape{m, n}, Shape{1, n}, Shape{n}, Shape{m, 1}, Shape{}};
  uint64_t tensor_seed = seed * 1000;

  std::vector<Value> pool;  // anything elementwise ops may read
  std::vector<Value> full;  // [M,N] values that are not parameters
  auto add_input = [&](const std::string& name, const Shape& s) {
    Value v = g.input(name, s, dtype);
    rg.inputs[name] = random_tensor(s, dtype, ++tensor_seed);
    return v;
  };
  auto add_param = [&](const std::string& name, const Shape& s) {
    Value v = g.parameter(name, s, dtype);
    rg.state[name] = random_tensor(s, dtype, ++tensor_seed);
    return v;
  };
  Value x = add_input("x", family[0]);
  pool.push_back(x);
  full.push_back(x);
  for (int i = 0, k = uniform(1, 2); i < k; ++i) pool.push_back(add_input(str_cat("in", i), family[uniform(1, 4)]));
  Value w = add_param("w", Shape{n, n});
  Value p = add_param("p", family[0]);
  pool.push_back(add_param("b", family[uniform(1, 3)]));
  Value lr = g.input("lr", Shape{}, DType::f32);
  rg.inputs["lr"] = Tensor::full(Shape{}, 0.125, DType::f32);

  auto pick = [&](const std::vector<Value>& from) { return from[uniform(0, static_cast<int>(from.size()) - 1)]; };
  auto pick_any = [&]() { return uniform(0, 5) == 0 ? p : pick(pool); };
  int updates = 0;
  const int num_nodes = uniform(4, 22);
  for (int i = 0; i < num_nodes; ++i) {
    Value v;
    switch (uniform(0, 12)) {
      case 0:
        v = relu(pick_any());
        break;
      case 1:
        v = sigmoid(pick_any());
        break;
      case 2:
        v = tanh(pick_any());
        break;
      case 3:
        v = exp(tanh(pick_any()));
        break;
      case 4:
        v = pick_any() + pick_any();
        break;
      case 5:
        v = pick_any() * pick_any();
        break;
      case 6:
        v = maximum(pick_any(), pick_any()) - pick_any();
        break;
      case 7:
        v = matmul(pick(full), w);
        break;
      case 8:
        v = uniform(0, 1) ? sum(pick(full), {1}, true) : sum(pick(full), {0}, true);
        break;
      case 9:
        v = reshape(reshape(pick(full), {m * n}), {m, n});
        break;
      case 10:
        v = pick_any() * 0.5 + 0.25;
        break;
      case 11:
        v = relu(matmul(pick(full), w) + pick(pool));
        break;  // a GEMM epilogue
      default:
        if (updates < 2) {
          // p -= lr * grad, after some readers of p and before others.
          Value grad = pick(full);
          sgd_update(p, grad, lr, Value{}, SgdOptions{});
          ++updates;
          continue;
        }
        v = neg(pick(pool));
    }
    pool.push_back(v);
    if (v.shape() == family[0]) full.push_back(v);
  }
  rg.outputs.push_back(pool.back());
  if (uniform(0, 3) == 0) rg.outputs.push_back(argmax(pick(full), -1));  // an int64 result
  for (int i = 0, k = uniform(0, 2); i < k; ++i) {
    Value o = pick(pool);
    if (o.producer().op_name() != "input" && o.producer().op_name() != "parameter") rg.outputs.push_back(o);
  }
  return rg;
}

}  // namespace dagrad::scheduler::testing
