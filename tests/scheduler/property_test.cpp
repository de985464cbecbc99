// Random graphs, every combination of passes: the executor must reproduce the plain
// interpreter bit for bit (fused evaluation applies the same per-element functions in
// the same order; memory planning and streams change where and when, not what), and
// every plan must pass the independent safety check.
#include <gtest/gtest.h>

#include <iostream>

#include "ops/op_def.h"
#include "random_graph.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler::testing {
namespace {

struct Variant {
  bool fuse, epilogues;
  int streams;
  bool plan_memory, reorder;
  std::string name() const {
    return str_cat("fuse=", fuse, " epilogues=", epilogues, " streams=", streams, " plan_memory=", plan_memory,
                   " reorder=", reorder);
  }
  CompileOptions options() const {
    CompileOptions o;
    o.fuse = fuse;
    o.fuse_epilogues = epilogues;
    o.num_streams = streams;
    o.plan_memory = plan_memory;
    o.reorder_for_memory = reorder;
    return o;
  }
};

std::vector<Variant> variants(uint64_t seed) {
  std::vector<Variant> out;
  for (int f = 0; f < 3; ++f)
    for (int s : {1, 2, 4})
      for (bool pm : {false, true}) out.push_back({f > 0, f > 1, s, pm, (seed + s) % 2 == 0});
  return out;
}

// How often the plans of all variants exercise each feature (so the generator cannot drift
// into testing nothing).
struct Coverage {
  int groups = 0, epilogues = 0, events = 0, inplace = 0, views = 0, updates = 0;
  void add(const ExecutionPlan& p) {
    const Graph& g = *p.graph;
    for (const FusedGroup& grp : p.groups) ++(grp.epilogue_of >= 0 ? epilogues : groups);
    events += static_cast<int>(p.events.size());
    for (const Buffer& b : p.buffers)
      for (size_t i = 1; i < b.aliases.size(); ++i) ++(g.node(b.aliases[i].node).op->flags.view ? views : inplace);
    for (int id : p.nodes) updates += !g.node(id).op->writes_inputs.empty();
  }
};

void check_seed(uint64_t seed, DType dtype, Coverage& coverage) {
  SCOPED_TRACE(str_cat("seed ", seed, " ", dtype_name(dtype)));
  RandomGraph rg = make_random_graph(seed, dtype);
  TensorMap ref_state = clone_all(rg.state);
  std::vector<Tensor> want = interpret(*rg.graph, rg.outputs, merged(rg.inputs, ref_state), 3);

  for (const Variant& v : variants(seed)) {
    SCOPED_TRACE(v.name());
    ExecutionPlan plan = compile(*rg.graph, rg.outputs, v.options());
    EXPECT_PLAN_SAFE(plan);
    coverage.add(plan);
    EXPECT_LE(plan.arena_bytes, plan.unplanned_bytes);
    EXPECT_GE(plan.arena_bytes, max_live_bytes(plan));

    TensorMap state = clone_all(rg.state);
    Executor ex(plan);
    ex.bind(state);
    std::vector<Tensor> got = ex.run(rg.inputs, 3);
    EXPECT_TRUE(all_bit_equal(got, want)) << "\n" << plan.to_table() << rg.graph->to_dot();
    EXPECT_TRUE(all_bit_equal(state, ref_state)) << ": a parameter after the run\n" << plan.to_table();
    if (::testing::Test::HasFailure()) return;
  }
}

// Seeds [first, end) of `dtype`, up to the first that fails.
Coverage check_seeds(uint64_t first, uint64_t end, DType dtype) {
  Coverage c;
  for (uint64_t seed = first; seed < end && !::testing::Test::HasFailure(); ++seed) check_seed(seed, dtype, c);
  return c;
}

TEST(SchedulerProperty, RandomGraphsMatchInterpreterFloat32) {
  const Coverage c = check_seeds(0, 200, DType::f32);
  if (::testing::Test::HasFailure()) return;
  EXPECT_GE(c.groups, 500);
  EXPECT_GE(c.epilogues, 100);
  EXPECT_GE(c.events, 500);
  EXPECT_GE(c.inplace, 500);
  EXPECT_GE(c.views, 500);
  EXPECT_GE(c.updates, 500);
  std::cout << "coverage over 200 graphs x 18 variants: " << c.groups << " fused groups, " << c.epilogues
            << " epilogues, " << c.events << " events, " << c.inplace << " in-place outputs, " << c.views << " views, "
            << c.updates << " in-place updates\n";
}

// Several runs in a row on four streams: state carried between runs (in-place updates)
// and the reuse of the arena and events must not let one run disturb the next.
TEST(SchedulerProperty, RepeatedRunsOnFourStreams) {
  for (uint64_t seed = 500; seed < 530; ++seed) {
    SCOPED_TRACE(str_cat("seed ", seed));
    RandomGraph rg = make_random_graph(seed);
    CompileOptions opt;
    opt.num_streams = 4;
    ExecutionPlan plan = compile(*rg.graph, rg.outputs, opt);
    TensorMap ref = clone_all(rg.state), state = clone_all(rg.state);
    Executor ex(plan);
    ex.bind(state);
    for (uint64_t run = 0; run < 6; ++run) {
      std::vector<Tensor> want = interpret(*rg.graph, rg.outputs, merged(rg.inputs, ref), run);
      EXPECT_TRUE(all_bit_equal(ex.run(rg.inputs), want)) << "run " << run;
    }
    EXPECT_TRUE(all_bit_equal(state, ref));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(SchedulerProperty, RandomGraphsMatchInterpreterFloat64) { check_seeds(1000, 1040, DType::f64); }

}  // namespace
}  // namespace dagrad::scheduler::testing
