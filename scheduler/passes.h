// The compiler's passes and the working state they hand each other (internal to the
// scheduler library; the public result is ExecutionPlan).
#pragma once
#include <cstdint>
#include <vector>

#include "ops/graph.h"
#include "scheduler/compile_options.h"
#include "scheduler/plan.h"

namespace dagrad::scheduler::detail {

enum class Role : uint8_t {
  pruned,   // not needed by any output
  bound,    // input / parameter: a tensor bound by name
  view,     // aliases input 0's bytes; no kernel
  compute,  // runs a kernel (alone, in a fused group, or as an epilogue)
};

// Pass 1 (graph_view.cpp): the kept nodes, their roles and their ordering dependencies.
struct NodeGraph {
  const Graph* graph = nullptr;
  std::vector<ValueRef> outputs;
  std::vector<Role> role;  // per node
  // Per compute node: the compute nodes it must run after. Data and control edges, with
  // bound and view nodes looked through, plus the alias hazards of in-place writers.
  std::vector<std::vector<int>> deps;
  // Per node: kept nodes that read one of its outputs (data edges), ascending.
  std::vector<std::vector<int>> readers;
  std::vector<int> compute_order;            // compute nodes, a topological order
  std::vector<int> position;                 // node -> index in compute_order (-1 otherwise)
  std::vector<std::vector<char>> is_output;  // [node][index]: a requested output

  bool requested(ValueRef v) const { return is_output[v.node][v.index] != 0; }
};
// `program_id`: per node, the position in program order that decides in-place hazards
// (empty: the node id). A recomputing clone takes its original's, so it reads a
// parameter before the update its original ran before.
NodeGraph build_node_graph(const Graph& g, std::span<const Value> outputs, const CompileOptions& opt,
                           std::span<const int> program_id = {});
// The value whose bytes `v` shares: follows views down to a bound or computed value.
ValueRef alias_root(const NodeGraph& ng, ValueRef v);

// Pass 2 (fusion.cpp): compute nodes grouped into units, one step each.
struct Units {
  // Members in evaluation order. A unit with an epilogue lists its kernel node first.
  std::vector<std::vector<int>> members;
  std::vector<int> group;    // per unit: FusedGroup id or -1
  std::vector<char> fused;   // per unit: a fused step (a group with no kernel node)
  std::vector<int> unit_of;  // per node: its unit, or -1
  std::vector<FusedGroup> groups;
  // Per unit: units it must run after, ascending.
  std::vector<std::vector<int>> deps;
};
Units fuse(const NodeGraph& ng, const CompileOptions& opt);
// Values a unit reads from outside itself, in first-use order, and values it writes
// (its materialised outputs), both as recorded in the unit's nodes and group.
std::vector<ValueRef> unit_inputs(const NodeGraph& ng, const Units& u, int unit);
std::vector<ValueRef> unit_outputs(const NodeGraph& ng, const Units& u, int unit);

// Pass 3 (order.cpp): a deterministic topological order of the units.
std::vector<int> order_units(const NodeGraph& ng, const Units& u, const CompileOptions& opt);

// Pass 4 (streams.cpp): streams, events and the happens-before relation they give.
// Indices k below are positions in the unit order ("compute index").
struct StreamPlan {
  int num_streams = 1;
  std::vector<int> stream;      // per k
  std::vector<int> stream_pos;  // per k: index among its stream's compute steps
  // vc[k][s]: how many compute steps of stream s happen before step k (vector clock).
  std::vector<std::vector<int>> vc;
  std::vector<std::vector<int>> waits;  // per k: events waited for just before it
  std::vector<int> record;              // per k: event recorded just after it, or -1
  int num_events = 0;

  // a happens before b (a != b): a precedes b on its stream, or an event chain orders them.
  bool happens_before(int a, int b) const { return stream_pos[a] < vc[b][stream[a]]; }
};
StreamPlan assign_streams(const NodeGraph& ng, const Units& u, const std::vector<int>& order,
                          const CompileOptions& opt);

// Pass 5 (memory.cpp): buffers, in-place reuse, live ranges and arena offsets.
struct MemoryPlan {
  std::vector<Buffer> buffers;                  // first_use/last_use as compute indices
  std::vector<std::vector<int>> value_buffer;   // [node][index]
  std::vector<std::vector<int>> reads, writes;  // per compute index k
  size_t arena_bytes = 0;
  size_t unplanned_bytes = 0;
};
MemoryPlan plan_memory(const NodeGraph& ng, const Units& u, const std::vector<int>& order, const StreamPlan& sp,
                       const CompileOptions& opt);

// Passes 1-5 and the plan they make (compile.cpp), without recomputation.
ExecutionPlan compile_plan(const Graph& g, std::span<const Value> outputs, const CompileOptions& opt,
                           std::span<const int> program_id = {});

// Recomputation (recompute.cpp): from `plan` (compile_plan's, over budget), clones nodes
// into `g` for the late readers of values live across the peak until the plan fits or
// nothing more helps; returns the best plan, its `recompute` filled in.
ExecutionPlan recompute_to_budget(Graph& g, std::span<const Value> outputs, const CompileOptions& opt,
                                  ExecutionPlan plan);

}  // namespace dagrad::scheduler::detail
