#include "profiler/step_info.h"

#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad::profiler {

using scheduler::ExecutionPlan;
using scheduler::FusedGroup;
using scheduler::Step;
using scheduler::StepKind;
using scheduler::ValueRef;

std::string_view step_class_name(StepClass k) {
  switch (k) {
    case StepClass::conv: return "conv";
    case StepClass::gemm: return "gemm";
    case StepClass::pool: return "pool";
    case StepClass::elementwise: return "elementwise";
    case StepClass::fused: return "fused";
    case StepClass::reduce: return "reduce";
    case StepClass::loss: return "loss";
    case StepClass::optimizer: return "optimizer";
    case StepClass::other: return "other";
  }
  return "other";
}

std::vector<StepClass> all_step_classes() {
  return {StepClass::conv,   StepClass::gemm, StepClass::pool,      StepClass::elementwise, StepClass::fused,
          StepClass::reduce, StepClass::loss,   StepClass::optimizer, StepClass::other};
}

StepClass classify_op(const OpDef& op) {
  switch (op.kind) {
    case OpKind::convolution: return StepClass::conv;
    case OpKind::gemm: return StepClass::gemm;
    case OpKind::pooling: return StepClass::pool;
    case OpKind::optimizer: return StepClass::optimizer;
    case OpKind::loss: return StepClass::loss;
    case OpKind::elementwise: return StepClass::elementwise;
    case OpKind::reduction:
    case OpKind::normalization: return StepClass::reduce;
    default: return StepClass::other;
  }
}

namespace {

double value_bytes(const Graph& g, const ValueRef& v) {
  const TensorType& t = g.node(v.node).outputs.at(v.index);
  return static_cast<double>(t.shape.numel() * dtype_size(t.dtype));
}

std::string member_ops(const Graph& g, const std::vector<int>& nodes, size_t from) {
  std::string s;
  for (size_t i = from; i < nodes.size(); ++i) s += (i > from ? "+" : "") + g.node(nodes[i]).op_name();
  return s;
}

}  // namespace

StepInfo describe_step(const ExecutionPlan& plan, const Step& step) {
  if (!step.is_compute())
    throw ValueError(str_cat("[profiler] step ", step.index, " is a ", scheduler::step_kind_name(step.kind),
                             " step, not a kernel or fused group"));
  const Graph& g = *plan.graph;
  StepInfo info;
  info.nodes = step.nodes;
  for (int id : step.nodes) info.flops += g.node(id).op->cost_of(g.node(id)).flops;
  if (step.kind == StepKind::kernel) {
    const Node& n = g.node(step.nodes.at(0));
    Cost c = n.op->cost_of(n);
    info.bytes = c.bytes_read + c.bytes_written;
    info.kind = classify_op(*n.op);
    info.label = n.op_name();
    if (step.nodes.size() > 1) info.label += "+fused[" + member_ops(g, step.nodes, 1) + "]";
  } else {
    info.kind = StepClass::fused;
    info.label = "fused[" + member_ops(g, step.nodes, 0) + "]";
  }
  if (step.group >= 0) {
    const FusedGroup& grp = plan.groups.at(step.group);
    for (const ValueRef& v : grp.inputs) info.bytes += value_bytes(g, v);
    for (const ValueRef& v : grp.outputs) info.bytes += value_bytes(g, v);
  }
  return info;
}

}  // namespace dagrad::profiler
