#include "finite_diff.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "ops/ops.h"
#include "runtime/rng.h"

namespace dagrad::testing {

namespace {
double element(const Tensor& t, int64_t i) {
  return dispatch_floating(t.dtype(), "finite_diff", [&]<class T>() { return static_cast<double>(t.data<T>()[i]); });
}
}  // namespace

OpGraph op_gradient_graph(const OpDef& def, const OpCase& c, bool in_f64, uint64_t weight_seed) {
  OpGraph og = op_graph(def, c, in_f64);
  Graph& g = *og.graph;
  for (const Value& out : og.outputs()) {
    if (!is_floating(out.dtype())) continue;
    const std::string name = str_cat("w", out.index);
    const DType dtype = in_f64 ? DType::f64 : out.dtype();
    og.bindings[name] = random_tensor(out.shape(), dtype, weight_seed + static_cast<uint64_t>(out.index));
    const Value term = sum(mul(out, g.input(name, out.shape(), dtype)));
    og.loss = og.loss.valid() ? add(og.loss, term) : term;
  }
  return og;
}

std::vector<int> gradient_slots(const OpDef& def, const OpCase& c) {
  if (!c.grad_inputs.empty()) return c.grad_inputs;
  std::vector<int> slots;
  for (int i = 0; i < static_cast<int>(c.inputs.size()); ++i)
    if (is_floating(c.inputs[i].dtype()) &&
        std::find(def.nondiff_inputs.begin(), def.nondiff_inputs.end(), i) == def.nondiff_inputs.end())
      slots.push_back(i);
  return slots;
}

std::vector<Tensor> run(const Graph& g, std::span<const Value> outputs, const TensorMap& bindings) {
  TensorMap fresh = deep_copy(bindings);
  return interpret(g, outputs, fresh);
}

double run_scalar(const Graph& g, Value out, const TensorMap& bindings) {
  Tensor t = run(g, std::span<const Value>(&out, 1), bindings)[0];
  return element(t, 0);
}

double central_difference(const Graph& g, Value loss, const TensorMap& bindings, const std::string& name,
                          int64_t i, double eps) {
  TensorMap shifted = bindings;
  Tensor x = bindings.at(name).clone();
  double* p = x.data<double>();
  const double x0 = p[i];
  shifted[name] = x;
  p[i] = x0 + eps;
  double up = run_scalar(g, loss, shifted);
  p[i] = x0 - eps;
  double down = run_scalar(g, loss, shifted);
  return (up - down) / (2 * eps);
}

std::vector<int64_t> sample_indices(int64_t numel, int64_t max_count, uint64_t seed) {
  std::vector<int64_t> all;
  if (numel <= max_count) {
    for (int64_t i = 0; i < numel; ++i) all.push_back(i);
    return all;
  }
  std::set<int64_t> picked{0, numel - 1};
  for (uint64_t k = 0; static_cast<int64_t>(picked.size()) < max_count; ++k)
    picked.insert(static_cast<int64_t>(random_bits(seed, k) % static_cast<uint64_t>(numel)));
  return {picked.begin(), picked.end()};
}

::testing::AssertionResult matches_finite_differences(const Graph& g, Value loss, const TensorMap& bindings,
                                                      const std::string& name, const Tensor& analytic,
                                                      std::span<const int64_t> indices, double tol) {
  const Tensor& x = bindings.at(name);
  if (analytic.shape() != x.shape())
    return ::testing::AssertionFailure() << "d/d" << name << " has shape " << analytic.shape().to_string()
                                         << " but " << name << " is " << x.shape().to_string();
  double worst = -1;
  int64_t worst_i = -1;
  double worst_got = 0, worst_want = 0;
  for (int64_t i : indices) {
    double got = element(analytic, i);
    double want = central_difference(g, loss, bindings, name, i);
    double err = std::abs(got - want) / (1 + std::abs(want));
    if (!std::isfinite(err)) err = INFINITY;  // a NaN gradient must fail, not compare false
    if (err > worst) worst = err, worst_i = i, worst_got = got, worst_want = want;
  }
  if (worst <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "d loss/d " << name << " " << x.shape().to_string() << ": max error "
                                       << worst << " (tol " << tol << ") at element " << worst_i << ": autograd "
                                       << worst_got << ", finite differences " << worst_want;
}

}  // namespace dagrad::testing
