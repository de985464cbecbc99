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
      "accuracy", "one_hot",                    // a metric: piecewise constant
      "confusion_matrix",            // a metric: integer counts
      "greater_equal", "sign", "floor", "ceil", "round",       // piecewise constant: derivative 0 almost everywhere
      "sgd_update", "adam_update",   // optimizer updates: write state in place, no outputs
      "test_opaque",                 // registered by grad_errors_test.cpp to test the refusal
      // second derivatives of fused attention would need the [L,S] probabilities it avoids
      "scaled_dot_product_attention_backward",
  };
  return ops;
}

// inputs → op → the weighted loss of op_gradient_graph in float64; then autograd against
// finite differences.
void check_case(const OpDef& def, const OpCase& c) {
  OpGraph og = op_gradient_graph(def, c, /*in_f64=*/true, /*weight_seed=*/7000);
  Graph& g = *og.graph;
  const Value loss = og.loss;
  TensorMap& bind = og.bindings;
  ASSERT_TRUE(loss.valid()) << def.name << " has a vjp but no floating output";

  std::vector<int> slots = gradient_slots(def, c);
  ASSERT_FALSE(slots.empty()) << "nothing to differentiate; set skip_grad or grad_inputs";
  std::vector<Value> wrt;
  for (int s : slots) {
    ASSERT_LT(s, static_cast<int>(og.inputs.size())) << "grad_inputs names input " << s;
    wrt.push_back(og.inputs[s]);
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
