// Pass 1: prune, classify nodes, and collect every ordering dependency the later passes
// must respect, with bound and view nodes looked through (they run no kernel).
#include <algorithm>
#include <queue>
#include <set>

#include "ops/op_def.h"
#include "runtime/error.h"
#include "scheduler/passes.h"

namespace dagrad::scheduler::detail {

namespace {

void check_outputs(const Graph& g, std::span<const Value> outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Value& v = outputs[i];
    if (!v.valid()) throw GraphError(str_cat("[scheduler] output ", i, " is an empty Value"));
    if (v.graph != &g) throw GraphError(str_cat("[scheduler] output ", i, " belongs to another graph"));
    v.type();  // throws on a bad output index
  }
}

// Values stored in the same bytes as `root`: root itself and views of it, transitively.
std::vector<ValueRef> alias_set(const NodeGraph& ng, ValueRef root) {
  std::vector<ValueRef> set{root};
  for (size_t i = 0; i < set.size(); ++i)
    for (int r : ng.readers[set[i].node]) {
      const Node& n = ng.graph->node(r);
      if (ng.role[r] == Role::view && n.inputs[0].node == set[i].node && n.inputs[0].index == set[i].index)
        set.push_back(ValueRef{r, 0});
    }
  return set;
}

bool reads_value(const Node& n, ValueRef v) {
  return std::any_of(n.inputs.begin(), n.inputs.end(),
                     [&](const Value& x) { return x.node == v.node && x.index == v.index; });
}

}  // namespace

ValueRef alias_root(const NodeGraph& ng, ValueRef v) {
  while (ng.role[v.node] == Role::view) {
    const Value& in = ng.graph->node(v.node).inputs.at(0);
    v = ValueRef{in.node, in.index};
  }
  return v;
}

NodeGraph build_node_graph(const Graph& g, std::span<const Value> outputs, const CompileOptions& opt,
                           std::span<const int> program_id) {
  check_outputs(g, outputs);
  const int n = static_cast<int>(g.num_nodes());
  NodeGraph ng;
  ng.graph = &g;
  for (const Value& v : outputs) ng.outputs.push_back(ValueRef{v.node, v.index});

  // In-place writers (optimizer updates) are roots: their effect is the point.
  std::vector<int> kept;
  if (opt.prune) {
    kept = g.needed_by(outputs, g.effect_nodes());
  } else {
    kept.resize(n);
    for (int id = 0; id < n; ++id) kept[id] = id;
  }
  const std::vector<int> topo = g.topo_order();  // also rejects cycles

  ng.role.assign(n, Role::pruned);
  ng.is_output.resize(n);
  for (int id = 0; id < n; ++id) ng.is_output[id].assign(g.node(id).outputs.size(), 0);
  for (const ValueRef& v : ng.outputs) ng.is_output[v.node][v.index] = 1;
  for (int id : kept) {
    const OpDef& op = *g.node(id).op;
    if (op.flags.bound()) {
      ng.role[id] = Role::bound;
    } else if (op.flags.view) {
      if (g.node(id).inputs.empty() || g.node(id).outputs.size() != 1)
        throw InternalError(str_cat("[", op.name, "] a view op needs one input and one output"));
      ng.role[id] = Role::view;
    } else {
      ng.role[id] = Role::compute;
    }
  }

  ng.readers.assign(n, {});
  for (int id : kept) {
    std::set<int> producers;
    for (const Value& v : g.node(id).inputs) producers.insert(v.node);
    for (int p : producers) ng.readers[p].push_back(id);
  }

  // Dependencies with non-compute nodes looked through: a view's consumers wait for
  // whatever the view waits for.
  std::vector<std::set<int>> dep_sets(n);
  for (int id : topo) {
    if (ng.role[id] == Role::pruned) continue;
    for (int p : g.dependencies(id)) {
      if (ng.role[p] == Role::compute) {
        dep_sets[id].insert(p);
      } else {
        dep_sets[id].insert(dep_sets[p].begin(), dep_sets[p].end());
      }
    }
  }

  // Alias hazards. The graph orders an in-place writer after the earlier direct readers of
  // what it overwrites; readers through views need the same, and so do later readers
  // through views (they must see the new value). Program order (node ids) decides which.
  auto program_pos = [&](int id) { return id < static_cast<int>(program_id.size()) ? program_id[id] : id; };
  for (int w : kept) {
    if (ng.role[w] != Role::compute) continue;
    const Node& wn = g.node(w);
    for (int slot : wn.op->writes_inputs) {
      if (slot >= static_cast<int>(wn.inputs.size())) continue;
      ValueRef root = alias_root(ng, ValueRef{wn.inputs[slot].node, wn.inputs[slot].index});
      for (const ValueRef& v : alias_set(ng, root))
        for (int r : ng.readers[v.node]) {
          if (r == w || ng.role[r] != Role::compute || !reads_value(g.node(r), v)) continue;
          if (program_pos(r) < program_pos(w)) {
            dep_sets[w].insert(r);
          } else {
            dep_sets[r].insert(w);
          }
        }
    }
  }

  ng.deps.assign(n, {});
  for (int id : kept)
    if (ng.role[id] == Role::compute) ng.deps[id].assign(dep_sets[id].begin(), dep_sets[id].end());

  // Kahn's algorithm, smallest id first: program order wherever the edges allow it.
  std::vector<int> indegree(n, 0);
  std::vector<std::vector<int>> succ(n);
  int num_compute = 0;
  for (int id : kept) {
    if (ng.role[id] != Role::compute) continue;
    ++num_compute;
    indegree[id] = static_cast<int>(ng.deps[id].size());
    for (int d : ng.deps[id]) succ[d].push_back(id);
  }
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (int id : kept)
    if (ng.role[id] == Role::compute && indegree[id] == 0) ready.push(id);
  ng.position.assign(n, -1);
  while (!ready.empty()) {
    int id = ready.top();
    ready.pop();
    ng.position[id] = static_cast<int>(ng.compute_order.size());
    ng.compute_order.push_back(id);
    for (int s : succ[id])
      if (--indegree[s] == 0) ready.push(s);
  }
  if (static_cast<int>(ng.compute_order.size()) != num_compute)
    throw GraphError(
        "[scheduler] in-place writes and reads through views form a cycle; read the value before "
        "the update in program order, or copy it");
  return ng;
}

}  // namespace dagrad::scheduler::detail
