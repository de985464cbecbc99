// What one compute step of a plan does, in the profiler's words: a label that names
// the op or fused group (conv2d, fused[relu+add], matmul+fused[add+relu]), a class
// that colours it, its member nodes, and FLOPs and bytes from the cost model.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/plan.h"

namespace dagrad::profiler {

// Colour classes of the trace and the report, in legend order.
enum class StepClass : uint8_t { conv, gemm, pool, elementwise, fused, reduce, loss, optimizer, other };
std::string_view step_class_name(StepClass k);
std::vector<StepClass> all_step_classes();
// The class of a single op, from its kind.
StepClass classify_op(const OpDef& op);

struct StepInfo {
  std::string label;
  StepClass kind = StepClass::other;
  std::vector<int> nodes;  // the kernel's node then its epilogue members, or the group's members
  // Sum of OpDef::cost_of(node).flops over `nodes`.
  double flops = 0;
  // Bytes the step moves: the kernel's cost-model bytes (read + written) plus, for a fused
  // group, its external inputs and materialised outputs once each. Members inside a
  // group pass values in registers, so their own cost-model bytes do not count.
  double bytes = 0;
};

// Throws ValueError for a record or wait step (they run no kernel).
StepInfo describe_step(const scheduler::ExecutionPlan& plan, const scheduler::Step& step);

}  // namespace dagrad::profiler
