#include "scheduler/compile.h"

#include <algorithm>

#include "runtime/error.h"
#include "scheduler/mixed_precision.h"
#include "scheduler/passes.h"

namespace dagrad::scheduler {

using namespace detail;

ExecutionPlan compile(Graph& graph, std::span<const Value> outputs, const CompileOptions& options) {
  if (options.num_streams < 1)
    throw ValueError(str_cat("[scheduler] num_streams must be at least 1, got ", options.num_streams));
  if (options.alignment == 0 || (options.alignment & (options.alignment - 1)) != 0)
    throw ValueError(str_cat("[scheduler] alignment must be a power of two, got ", options.alignment));
  if (options.precision != DType::f32) {
    if (!is_half(options.precision))
      throw ValueError(str_cat("[scheduler] precision must be float32, bfloat16 or float16, got ",
                               dtype_name(options.precision)));
    if (std::vector<int> left = float32_products(graph); !left.empty())
      throw ValueError(str_cat("[scheduler] precision is ", dtype_name(options.precision), " but '",
                               graph.node(left.front()).name, "' (and ", left.size() - 1,
                               " more) multiplies float32 operands: apply scheduler::apply_mixed_precision to the "
                               "graph before the optimizer's update nodes are added (the Trainer does)"));
  }
  // Without pruning, clones that were tried and given up would still run.
  if (options.memory_budget > 0 && !options.prune)
    throw ValueError("[scheduler] memory_budget needs prune on");
  ExecutionPlan plan = compile_plan(graph, outputs, options);
  plan.recompute.budget = options.memory_budget;
  plan.recompute.peak_before = plan.arena_bytes;
  if (options.memory_budget == 0 || plan.arena_bytes <= options.memory_budget) return plan;
  return recompute_to_budget(graph, outputs, options, std::move(plan));
}

namespace detail {

ExecutionPlan compile_plan(const Graph& graph, std::span<const Value> outputs, const CompileOptions& options,
                           std::span<const int> program_id) {
  NodeGraph ng = build_node_graph(graph, outputs, options, program_id);
  Units units = fuse(ng, options);
  std::vector<int> order = order_units(ng, units, options);
  StreamPlan sp = assign_streams(ng, units, order, options);
  MemoryPlan mp = plan_memory(ng, units, order, sp, options);

  ExecutionPlan plan;
  plan.graph = &graph;
  plan.options = options;
  plan.num_streams = sp.num_streams;
  plan.outputs = ng.outputs;
  plan.groups = units.groups;
  plan.value_buffer = std::move(mp.value_buffer);
  plan.arena_bytes = mp.arena_bytes;
  plan.unplanned_bytes = mp.unplanned_bytes;
  plan.node_step.assign(graph.num_nodes(), -1);
  plan.events.resize(sp.num_events);
  for (int e = 0; e < sp.num_events; ++e) plan.events[e].id = e;

  const int nu = static_cast<int>(order.size());
  std::vector<int> step_of_k(nu + 1);
  for (int k = 0; k < nu; ++k) {
    int unit = order[k];
    int s = sp.stream[k];
    for (int e : sp.waits[k]) {
      Step w;
      w.index = static_cast<int>(plan.steps.size());
      w.kind = StepKind::wait;
      w.stream = s;
      w.event = e;
      plan.events[e].wait_steps.push_back(w.index);
      plan.steps.push_back(std::move(w));
    }
    Step c;
    c.index = static_cast<int>(plan.steps.size());
    c.kind = units.fused[unit] ? StepKind::fused : StepKind::kernel;
    c.stream = s;
    c.nodes = units.members[unit];
    c.group = units.group[unit];
    c.reads = mp.reads[k];
    c.writes = mp.writes[k];
    step_of_k[k] = c.index;
    for (int m : c.nodes) {
      plan.node_step[m] = c.index;
      plan.nodes.push_back(m);
    }
    plan.steps.push_back(std::move(c));
    if (int e = sp.record[k]; e >= 0) {
      Step r;
      r.index = static_cast<int>(plan.steps.size());
      r.kind = StepKind::record;
      r.stream = s;
      r.event = e;
      plan.events[e].stream = s;
      plan.events[e].record_step = r.index;
      plan.events[e].producer_step = step_of_k[k];
      plan.steps.push_back(std::move(r));
    }
  }
  step_of_k[nu] = static_cast<int>(plan.steps.size());

  plan.buffers = std::move(mp.buffers);
  for (Buffer& b : plan.buffers) {
    if (b.first_use >= 0) b.first_use = step_of_k[b.first_use];
    if (b.last_use >= 0) b.last_use = step_of_k[b.last_use];
  }
  for (size_t id = 0; id < graph.num_nodes(); ++id)
    if (ng.role[id] == Role::bound) plan.bound_nodes.push_back(static_cast<int>(id));
  return plan;
}

}  // namespace detail

bool Recomputation::contains(int node) const { return std::binary_search(nodes.begin(), nodes.end(), node); }

}  // namespace dagrad::scheduler
