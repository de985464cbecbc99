// Every differentiable op's vjp rule against central finite differences, over the same
// cases as the reference test (tests/ops/*_cases.cpp), in float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "autograd/grad.h"
#include "finite_diff.h"
#include "ops/ops.h"
#include "ops/registry.h"
#include "tests/ops/op_cases.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

// Ops registered without a vjp on purpose. An op missing from this list that has no vjp
// fails EveryDifferentiableOpHasAGradientCheck, so a forgotten rule cannot go unnoticed.
const std::set<std::string>& non_differentiable_ops() {
  static const std::set<std::string> ops = {
      "input", "parameter", "full", "constant",  // sources: gradients end there
      "argmax",                      // integer output
      "accuracy",                    // a metric: piecewise constant
      "greater_equal", "sign",       // piecewise constant: derivative 0 almost everywhere
      "sgd_update", "adam_update",   // optimizer updates: write state in place, no outputs
      "test_opaque",                 // registered by grad_errors_test.cpp to test the refusal
  };
  return ops;
}

bool is_nondiff_input(const OpDef& def, int slot) {
  return std::find(def.nondiff_inputs.begin(), def.nondiff_inputs.end(), slot) != def.nondiff_inputs.end();
}

std::vector<int> slots_to_check(const OpDef& def, const OpCase& c) {
  if (!c.grad_inputs.empty()) return c.grad_inputs;
  std::vector<int> slots;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (is_floating(c.inputs[i].dtype()) && !is_nondiff_input(def, static_cast<int>(i)))
      slots.push_back(static_cast<int>(i));
  return slots;
}

// inputs → op → loss = Σ_o sum(out_o * w_o) with fixed random weights w_o, so every
// output element gets a distinct cotangent; then autograd against finite differences.
void check_case(const OpDef& def, const OpCase& c) {
  Graph g;
  TensorMap bind;
  std::vector<Value> ins;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    std::string name = str_cat("in", i);
    Tensor t = to_f64(c.inputs[i]);
    ins.push_back(g.input(name, t.shape(), t.dtype()));
    bind[name] = t;
  }
  int id = g.add_node(def, ins, c.attrs, c.params, "op", std::source_location::current());
  Value loss;
  for (size_t o = 0; o < g.node(id).outputs.size(); ++o) {
    Value out = g.node(id).output(static_cast<int>(o));
    if (!is_floating(out.dtype())) continue;
    std::string name = str_cat("w", o);
    bind[name] = random_tensor(out.shape(), DType::f64, 7000 + o, -1.0, 1.0);
    Value term = sum(mul(out, g.input(name, out.shape(), DType::f64)));
    loss = loss.valid() ? add(loss, term) : term;
  }
  ASSERT_TRUE(loss.valid()) << def.name << " has a vjp but no floating output";

  std::vector<int> slots = slots_to_check(def, c);
  ASSERT_FALSE(slots.empty()) << "nothing to differentiate; set skip_grad or grad_inputs";
  std::vector<Value> wrt;
  for (int s : slots) {
    ASSERT_LT(s, static_cast<int>(ins.size())) << "grad_inputs names input " << s;
    wrt.push_back(ins[s]);
  }
  std::vector<Value> grads = autograd::grad(g, loss, wrt);
  std::vector<Tensor> got = run(g, grads, bind);
  // Each checked element costs two forward runs: check up to 256 elements of small
  // cases and fewer (at least 16) of large ones, keeping the work per case bounded.
  int64_t elements = 0;
  for (const auto& [_, t] : bind) elements += t.numel();
  const int64_t budget = std::clamp<int64_t>(200000 / std::max<int64_t>(elements, 1), 16, 256);
  for (size_t k = 0; k < slots.size(); ++k) {
    std::string name = str_cat("in", slots[k]);
    std::vector<int64_t> idx = sample_indices(got[k].numel(), budget, 11 + k);
    EXPECT_TRUE(matches_finite_differences(g, loss, bind, name, got[k], idx))
        << def.name << " [" << c.label << "] input " << slots[k];
  }
}

std::vector<std::string> differentiable_ops_with_cases() {
  std::vector<std::string> names;
  for (const auto& [name, _] : op_case_table())
    if (const OpDef* d = OpRegistry::instance().find(name); d && d->vjp) names.push_back(name);
  return names;
}

}  // namespace

TEST(OpGradient, EveryDifferentiableOpHasAGradientCheck) {
  std::string no_cases, all_skipped, no_vjp;
  for (const OpDef* d : OpRegistry::instance().all()) {
    if (!d->vjp) {
      if (!non_differentiable_ops().count(d->name)) no_vjp += d->name + " ";
      continue;
    }
    auto it = op_case_table().find(d->name);
    if (it == op_case_table().end()) {
      no_cases += d->name + " ";
      continue;
    }
    bool checked = false;
    for (CaseGenerator gen : it->second)
      for (const OpCase& c : gen()) checked |= !c.skip_grad;
    if (!checked) all_skipped += d->name + " ";
  }
  EXPECT_EQ(no_cases, "") << "ops with a vjp but no cases in tests/ops/*_cases.cpp";
  EXPECT_EQ(all_skipped, "") << "ops with a vjp whose cases all set skip_grad";
  EXPECT_EQ(no_vjp, "") << "ops without a vjp that are not in non_differentiable_ops(): write the vjp, "
                           "or list the op there if it truly has no gradient";
}

TEST(OpGradient, NonDifferentiableListIsCurrent) {
  for (const std::string& name : non_differentiable_ops()) {
    const OpDef* d = OpRegistry::instance().find(name);
    ASSERT_NE(d, nullptr) << name << " is listed as non-differentiable but is not registered";
    EXPECT_EQ(d->vjp, nullptr) << name << " has a vjp now: remove it from non_differentiable_ops()";
  }
}

class OpGradientTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OpGradientTest, MatchesFiniteDifferences) {
  const OpDef& def = op_def(GetParam());
  for (CaseGenerator gen : op_case_table().at(GetParam()))
    for (const OpCase& c : gen()) {
      if (c.skip_grad) continue;
      SCOPED_TRACE(c.label);
      check_case(def, c);
    }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpGradientTest, ::testing::ValuesIn(differentiable_ops_with_cases()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OpGradientTest);
