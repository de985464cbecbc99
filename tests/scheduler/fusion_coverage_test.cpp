// Every op with a per-element form fuses: on the inputs of its reference cases, the op
// followed by more elementwise ops (one fused group, or a GEMM epilogue) gives exactly
// what the plain interpreter gives running each op alone.
#include <gtest/gtest.h>

#include "op_cases.h"
#include "ops/ops.h"
#include "ops/registry.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

using namespace dagrad;
using namespace dagrad::scheduler;

namespace {

// x -> op(x, ...) -> (· 2 + 1) -> abs, materialising only the last value.
void check_fused(const OpDef& def, const dagrad::testing::OpCase& c) {
  dagrad::testing::OpGraph og = dagrad::testing::op_graph(def, c);
  Graph& g = *og.graph;
  const TensorMap& bind = og.bindings;
  Value y = og.op_node().output();
  Value out = abs(y * 2.0 + 1.0);
  const ExecutionPlan plan = compile(g, std::vector<Value>{out});
  bool fused = false;
  for (const FusedGroup& grp : plan.groups)
    fused = fused || std::find(grp.nodes.begin(), grp.nodes.end(), y.node) != grp.nodes.end();
  EXPECT_TRUE(fused) << def.name << " [" << c.label << "] was not fused:\n" << plan.to_table();
  Executor ex(plan);
  const Tensor got = ex.run(bind)[0];
  const Tensor want = interpret(g, std::vector<Value>{out}, bind)[0];
  EXPECT_TRUE(scheduler::testing::bit_equal(got, want)) << def.name << " [" << c.label << "]";
}

}  // namespace

TEST(FusionCoverage, EveryElementwiseOpFusesBitExactly) {
  int checked = 0;
  for (const auto& [d, cases] : dagrad::testing::elementwise_op_cases())
    for (const dagrad::testing::OpCase& c : cases) {
      SCOPED_TRACE(c.label);
      check_fused(*d, c);
      ++checked;
    }
  EXPECT_GE(checked, 24 * 4);
}
