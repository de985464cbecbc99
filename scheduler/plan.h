// ExecutionPlan: what scheduler::compile decided, as plain data. Steps per stream
// (kernels, fused groups, event records and waits), the events, the buffers with their
// arena offsets and live ranges, and the fused groups with their member nodes. The
// Executor runs it; people read it as a table, a DOT graph or JSON.
//
// A plan refers to the Graph it was compiled from (for nodes, attributes and kernels):
// keep the graph alive, and unchanged, as long as the plan.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ops/elementwise_program.h"
#include "ops/graph.h"
#include "scheduler/compile_options.h"

namespace dagrad::scheduler {

enum class StepKind : uint8_t {
  kernel,  // one node's kernel (plus, with `group` set, a fused epilogue over its output)
  fused,   // a fused elementwise group evaluated tile by tile
  record,  // records `event` on the step's stream
  wait,    // makes the step's stream wait for `event`
};
std::string_view step_kind_name(StepKind k);

// One output of one node.
struct ValueRef {
  int node = -1;
  int index = 0;
  bool operator==(const ValueRef&) const = default;
};

struct Step {
  int index = -1;  // position in ExecutionPlan::steps, the order the executor issues them
  StepKind kind = StepKind::kernel;
  int stream = 0;
  std::vector<int> nodes;   // kernel: the node, then its epilogue's members; fused: the members
  int group = -1;           // the fused group (fused steps; kernel steps with an epilogue)
  int event = -1;           // record and wait steps
  std::vector<int> reads;   // buffers read (ids, ascending)
  std::vector<int> writes;  // buffers written (ids, ascending)

  bool is_compute() const { return kind == StepKind::kernel || kind == StepKind::fused; }
};

struct EventInfo {
  int id = -1;
  int stream = 0;          // recorded on
  int record_step = -1;    // the record step
  int producer_step = -1;  // the compute step it marks the end of
  std::vector<int> wait_steps;
};

struct Buffer {
  enum class Kind : uint8_t {
    arena,  // planned: lives at `offset` in the executor's arena
    bound,  // an input or parameter tensor bound by name; not planned
  };
  int id = -1;
  Kind kind = Kind::arena;
  std::string name;               // the defining node's name
  ValueRef value;                 // the value that defines it
  std::vector<ValueRef> aliases;  // every value stored here (views, in-place outputs), defining value first
  DType dtype = DType::f32;
  Shape shape;             // of the defining value
  size_t bytes = 0;        // numel * element size
  size_t offset = 0;       // arena buffers: byte offset (aligned)
  int first_use = -1;      // step indices (ExecutionPlan::steps) of the first and last
  int last_use = -1;       // access; last_use == steps.size() for requested outputs
  bool is_output = false;  // holds a requested output: kept to the end of the run
};

struct FusedGroup {
  int id = -1;
  std::vector<int> nodes;         // members in evaluation order
  std::vector<ValueRef> inputs;   // external inputs, each read once per tile
  std::vector<ValueRef> outputs;  // values materialised (used outside the group or requested)
  Shape shape;                    // every member's output shape
  DType dtype = DType::f32;       // the members' compute type (float32 or float64)
  int epilogue_of = -1;  // node whose output the group follows in the same step, or -1

  // The group as the program a backend's elementwise launcher runs.
  ElementwiseProgram program(const Graph& g) const;
};

// What recomputation under CompileOptions::memory_budget did (empty without a budget).
struct Recomputation {
  size_t budget = 0;        // bytes; 0: no budget
  size_t peak_before = 0;   // planned peak without recomputation
  double extra_flops = 0;   // per run, of the recomputing nodes (cost model)
  std::vector<int> nodes;   // recomputing nodes the plan runs (clones), ascending
  std::vector<int> originals;  // per entry of `nodes`: the node it repeats
  bool met = true;          // the planned peak fits the budget

  bool contains(int node) const;
};

struct ExecutionPlan {
  const Graph* graph = nullptr;
  CompileOptions options;
  int num_streams = 1;
  std::vector<int> nodes;   // kept nodes, in the order their steps run
  std::vector<Step> steps;  // issue order across all streams
  std::vector<EventInfo> events;
  std::vector<Buffer> buffers;
  std::vector<FusedGroup> groups;
  std::vector<ValueRef> outputs;  // requested, in the caller's order
  std::vector<int> bound_nodes;   // input and parameter nodes the plan reads, ascending
  // value_buffer[node][index]: the buffer holding that value; -1 for values never
  // materialised (inside a fused group) and for nodes not kept.
  std::vector<std::vector<int>> value_buffer;
  std::vector<int> node_step;  // node id -> compute step that runs it, or -1
  size_t arena_bytes = 0;      // planned peak: the arena the executor allocates
  size_t unplanned_bytes = 0;  // sum of all arena buffers (aligned): the no-reuse baseline
  Recomputation recompute;

  int buffer_of(ValueRef v) const;
  int buffer_of(const Value& v) const { return buffer_of(ValueRef{v.node, v.index}); }
  // Compute steps (kernel and fused): the kernel count.
  int num_kernels() const;
  int num_fused_steps() const;  // steps evaluating a fused group (fused, or a kernel with an epilogue)
  std::vector<int> stream_steps(int stream) const;  // step indices on one stream, in order
  // The compute step that runs `node` (-1 for bound, view and pruned nodes).
  int step_of(int node) const { return node_step.at(node); }

  std::string summary() const;   // one line: kernels, groups, streams, events, peak bytes
  // Empty when the memory budget (if any) is met; otherwise one line saying so and the
  // smallest peak recomputation reached.
  std::string budget_warning() const;
  std::string to_table() const;  // steps, then buffers, then the summary
  std::string to_dot() const;    // fused groups as clusters, streams as node colours
  std::string to_json() const;   // everything above, machine-readable
};

}  // namespace dagrad::scheduler
