#include "profiler/step_info.h"

#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad::profiler {

using scheduler::ExecutionPlan;
using scheduler::FusedGroup;
using scheduler::Step;
using scheduler::StepKind;
using scheduler::ValueRef;

std::string_view op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::conv: return "conv";
    case OpKind::matmul: return "matmul";
    case OpKind::pool: return "pool";
    case OpKind::elementwise: return "elementwise";
    case OpKind::fused: return "fused";
    case OpKind::reduce: return "reduce";
    case OpKind::loss: return "loss";
    case OpKind::optimizer: return "optimizer";
    case OpKind::other: return "other";
  }
  return "other";
}

std::vector<OpKind> all_op_kinds() {
  return {OpKind::conv,   OpKind::matmul, OpKind::pool,      OpKind::elementwise, OpKind::fused,
          OpKind::reduce, OpKind::loss,   OpKind::optimizer, OpKind::other};
}

OpKind classify_op(std::string_view op, bool elementwise) {
  auto has = [&](std::string_view s) { return op.find(s) != std::string_view::npos; };
  if (has("conv")) return OpKind::conv;
  if (has("matmul") || op == "linear") return OpKind::matmul;
  if (has("pool")) return OpKind::pool;
  if (op.ends_with("_update")) return OpKind::optimizer;
  if (has("loss") || has("cross_entropy") || op == "accuracy") return OpKind::loss;
  if (op == "dropout") return OpKind::elementwise;  // a random mask per element, not flagged (not fusible)
  if (elementwise) return OpKind::elementwise;
  if (op == "sum" || op == "mean" || op == "max" || op == "sum_to" || has("softmax") || has("norm"))
    return OpKind::reduce;
  return OpKind::other;
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
    info.kind = classify_op(n.op_name(), n.op->flags.elementwise);
    info.label = n.op_name();
    if (step.nodes.size() > 1) info.label += "+fused[" + member_ops(g, step.nodes, 1) + "]";
  } else {
    info.kind = OpKind::fused;
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
