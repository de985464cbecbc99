// scheduler::compile: graph -> ExecutionPlan, through the passes
//   prune -> order -> fuse -> assign streams -> plan memory
// each switchable in CompileOptions. The result is deterministic: the same graph and
// options give the same plan.
#pragma once
#include <span>
#include <vector>

#include "ops/graph.h"
#include "scheduler/compile_options.h"
#include "scheduler/plan.h"

namespace dagrad::scheduler {

// Compiles the nodes that `outputs` need, plus every in-place writer (optimizer update)
// of the graph. Throws GraphError on a foreign or empty output or a cycle, ValueError on
// bad options. The graph changes only under a memory budget the plain plan exceeds:
// recomputing clones are appended and later readers rewired to them (so compile a graph
// of its own to compare with the plain plan).
ExecutionPlan compile(Graph& graph, std::span<const Value> outputs, const CompileOptions& options = {});
// For a braced list: compile(g, {loss, accuracy}).
inline ExecutionPlan compile(Graph& graph, const std::vector<Value>& outputs,
                             const CompileOptions& options = {}) {
  return compile(graph, std::span<const Value>(outputs), options);
}

}  // namespace dagrad::scheduler
