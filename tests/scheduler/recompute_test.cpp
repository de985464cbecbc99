// Recomputation under a memory budget: the plan must still compute exactly what the
// plain plan computes (random graphs, as the fusion property test builds them, on 1 and
// 2 streams), the planned peak must not grow as the budget shrinks, and a budget that
// cannot be met gives a warning and the smallest peak reached, not an error.
#include <gtest/gtest.h>

#include "ops/op_def.h"
#include "random_graph.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler::testing {
namespace {

CompileOptions with(int streams, size_t budget) {
  CompileOptions o;
  o.num_streams = streams;
  o.memory_budget = budget;
  return o;
}

struct Result {
  std::vector<Tensor> outputs;
  TensorMap state;
};

Result run(const ExecutionPlan& plan, const RandomGraph& rg) {
  Result r;
  r.state = clone_all(rg.state);
  Executor ex(plan);
  ex.bind(r.state);
  r.outputs = ex.run(rg.inputs, 3);
  return r;
}

TEST(Recompute, RandomGraphsGiveThePlainPlansResultsBitForBit) {
  int recomputed = 0, graphs_over_budget = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    for (int streams : {1, 2}) {
      SCOPED_TRACE(str_cat("seed ", seed, ", ", streams, " streams"));
      RandomGraph plain_g = make_random_graph(seed);
      ExecutionPlan plain = compile(*plain_g.graph, plain_g.outputs, with(streams, 0));
      Result want = run(plain, plain_g);

      RandomGraph rg = make_random_graph(seed);  // a graph of its own: recomputation adds nodes
      ExecutionPlan plan = compile(*rg.graph, rg.outputs, with(streams, plain.arena_bytes / 2));
      EXPECT_PLAN_SAFE(plan);
      EXPECT_LE(plan.arena_bytes, plain.arena_bytes);
      EXPECT_EQ(plan.recompute.peak_before, plain.arena_bytes);
      EXPECT_EQ(plan.recompute.met, plan.arena_bytes <= plan.recompute.budget);
      EXPECT_EQ(plan.recompute.extra_flops > 0, !plan.recompute.nodes.empty() && plan.recompute.extra_flops > 0);
      recomputed += static_cast<int>(plan.recompute.nodes.size());
      graphs_over_budget += plain.arena_bytes > plain.arena_bytes / 2;
      Result got = run(plan, rg);
      EXPECT_TRUE(all_bit_equal(got.outputs, want.outputs)) << plan.to_table();
      EXPECT_TRUE(all_bit_equal(got.state, want.state)) << ": a parameter after the run\n" << plan.to_table();
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_GT(graphs_over_budget, 0);
  EXPECT_GT(recomputed, 10) << "the generator no longer gives recomputation anything to do";
}

// The peak reached for each budget, largest budget first, each on a fresh graph.
std::vector<size_t> peaks_for(uint64_t seed, const std::vector<double>& fractions, size_t* plain_peak) {
  RandomGraph g0 = make_random_graph(seed);
  *plain_peak = compile(*g0.graph, g0.outputs).arena_bytes;
  std::vector<size_t> peaks;
  for (double f : fractions) {
    RandomGraph rg = make_random_graph(seed);
    const size_t budget = std::max<size_t>(1, static_cast<size_t>(f * static_cast<double>(*plain_peak)));  // 0 = none
    peaks.push_back(compile(*rg.graph, rg.outputs, with(1, budget)).arena_bytes);
  }
  return peaks;
}

TEST(Recompute, PeakDoesNotGrowAsTheBudgetShrinks) {
  const std::vector<double> fractions{1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 1e-9};
  int decreased = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(str_cat("seed ", seed));
    size_t plain = 0;
    std::vector<size_t> peaks = peaks_for(seed, fractions, &plain);
    EXPECT_EQ(peaks[0], plain);
    for (size_t i = 1; i < peaks.size(); ++i) EXPECT_LE(peaks[i], peaks[i - 1]) << "budget " << fractions[i];
    decreased += peaks.back() < plain;
  }
  EXPECT_GT(decreased, 0) << "no graph gave recomputation anything to do";
}

TEST(Recompute, ImpossibleBudgetWarnsAndGivesTheSmallestPeak) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RandomGraph rg = make_random_graph(seed);
    ExecutionPlan plan = compile(*rg.graph, rg.outputs, with(1, 1));  // one byte: never met
    if (plan.recompute.peak_before == 0) continue;
    EXPECT_FALSE(plan.recompute.met);
    EXPECT_NE(plan.budget_warning().find("cannot be met"), std::string::npos) << plan.budget_warning();
    EXPECT_NE(plan.summary().find("NOT met"), std::string::npos);
    EXPECT_PLAN_SAFE(plan);
    // Any larger unmet budget ends at least as high.
    RandomGraph rg2 = make_random_graph(seed);
    ExecutionPlan half = compile(*rg2.graph, rg2.outputs, with(1, plan.recompute.peak_before / 2));
    if (!half.recompute.met) {
      EXPECT_GE(half.arena_bytes, plan.arena_bytes);
    }
  }
}

TEST(Recompute, NoBudgetOrAMetBudgetLeavesTheGraphAlone) {
  RandomGraph rg = make_random_graph(3);
  const size_t n = rg.graph->num_nodes();
  ExecutionPlan plan = compile(*rg.graph, rg.outputs, with(1, 1ull << 40));
  EXPECT_EQ(rg.graph->num_nodes(), n);
  EXPECT_TRUE(plan.recompute.met);
  EXPECT_TRUE(plan.recompute.nodes.empty());
  EXPECT_TRUE(plan.budget_warning().empty());
}

TEST(Recompute, NeedsPruning) {
  RandomGraph rg = make_random_graph(3);
  CompileOptions o = with(1, 1);
  o.prune = false;
  EXPECT_THROW(compile(*rg.graph, rg.outputs, o), ValueError);
}

}  // namespace
}  // namespace dagrad::scheduler::testing
