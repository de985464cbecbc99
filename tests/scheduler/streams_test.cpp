// Stream assignment and events: independent work spreads over streams, every
// cross-stream edge is covered by an event, and the checker notices a missing one.
#include <gtest/gtest.h>

#include <set>

#include "ops/ops.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler::testing {
namespace {

CompileOptions streams(int n) {
  CompileOptions o;
  o.num_streams = n;
  return o;
}

// Removes plan.steps[i] and renumbers what refers to step indices.
void drop_step(ExecutionPlan& plan, int i) {
  plan.steps.erase(plan.steps.begin() + i);
  auto fix = [&](int& s) {
    if (s > i) --s;
  };
  for (size_t k = 0; k < plan.steps.size(); ++k) plan.steps[k].index = static_cast<int>(k);
  for (int& s : plan.node_step) fix(s);
  for (EventInfo& e : plan.events) {
    fix(e.record_step);
    fix(e.producer_step);
    std::erase(e.wait_steps, i);
    for (int& w : e.wait_steps) fix(w);
  }
}

TEST(Streams, WeightAndInputGradientGemmsGoToDifferentStreams) {
  Graph g;
  Value x = g.input("x", Shape{64, 32});
  Value w = g.parameter("w", Shape{32, 48});
  Value dy = g.input("dy", Shape{64, 48});
  Value dx = matmul(dy, w, false, true);  // [64,32]
  Value dw = matmul(x, dy, true, false);  // [32,48]
  std::vector<Value> outs{dx, dw};
  ExecutionPlan plan = compile(g, outs, streams(2));
  EXPECT_PLAN_SAFE(plan);
  EXPECT_NE(plan.steps[plan.step_of(dx.node)].stream, plan.steps[plan.step_of(dw.node)].stream);
  EXPECT_TRUE(plan.events.empty());  // nothing joins them
}

TEST(Streams, OptimizerUpdatesSpreadAndJoinWithEvents) {
  Graph g;
  Value x = g.input("x", Shape{16, 16});
  Value lr = g.input("lr", Shape{});
  std::vector<int> updates;
  Value h = x;
  std::vector<Value> params;
  for (int i = 0; i < 4; ++i) params.push_back(g.parameter(str_cat("w", i), Shape{16, 16}));
  for (int i = 0; i < 4; ++i) h = tanh(matmul(h, params[i]));
  Value loss = sum(h);
  // Stand-in gradients: independent GEMMs, one per parameter.
  for (int i = 0; i < 4; ++i) updates.push_back(sgd_update(params[i], matmul(x, h, true), lr, Value{}, SgdOptions{}));
  ExecutionPlan plan = compile(g, std::vector<Value>{loss}, streams(2));
  EXPECT_PLAN_SAFE(plan);
  std::set<int> used;
  for (int u : updates) used.insert(plan.steps[plan.step_of(u)].stream);
  EXPECT_EQ(used.size(), 2u) << plan.to_table();
  EXPECT_FALSE(plan.events.empty());
  for (const Step& s : plan.steps) {
    if (s.kind != StepKind::wait) continue;
    EXPECT_LT(plan.events[s.event].record_step, s.index);
  }
}

TEST(Streams, OneStreamNeedsNoEvents) {
  Graph g;
  Value x = g.input("x", Shape{8, 8});
  Value y = matmul(relu(x), x) + matmul(x, sigmoid(x));
  ExecutionPlan plan = compile(g, std::vector<Value>{y});
  EXPECT_TRUE(plan.events.empty());
  for (const Step& s : plan.steps) EXPECT_EQ(s.stream, 0);
}

TEST(Streams, CheckerCatchesADroppedWait) {
  Graph g;
  Value x = g.input("x", Shape{32, 32});
  Value a = matmul(x, x);
  Value b = matmul(x, x, true);
  Value c = matmul(a, b);
  ExecutionPlan plan = compile(g, std::vector<Value>{c}, streams(2));
  EXPECT_PLAN_SAFE(plan);
  auto wait =
      std::find_if(plan.steps.begin(), plan.steps.end(), [](const Step& s) { return s.kind == StepKind::wait; });
  ASSERT_NE(wait, plan.steps.end()) << plan.to_table();
  drop_step(plan, wait->index);
  expect_violation(plan, "may run before step");
}

TEST(Streams, ManyStreamsGiveTheSameResults) {
  Graph g;
  Value x = g.input("x", Shape{24, 24});
  std::vector<Value> branches;
  for (int i = 0; i < 6; ++i) branches.push_back(tanh(matmul(x, x * static_cast<double>(i + 1) * 0.01)));
  Value y = branches[0];
  for (int i = 1; i < 6; ++i) y = y + branches[i];
  TensorMap in{{"x", Tensor::full(Shape{24, 24}, 0.3)}};
  std::vector<Tensor> want = interpret(g, std::vector<Value>{y}, in);
  for (int n : {1, 2, 3, 4, 8}) {
    ExecutionPlan plan = compile(g, std::vector<Value>{y}, streams(n));
    EXPECT_PLAN_SAFE(plan);
    Executor ex(plan);
    for (int run = 0; run < 3; ++run) EXPECT_TRUE(bit_equal(ex.run(in)[0], want[0])) << n << " streams";
  }
}

}  // namespace
}  // namespace dagrad::scheduler::testing
