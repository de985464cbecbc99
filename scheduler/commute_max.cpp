#include "scheduler/commute_max.h"

#include "ops/op_def.h"

namespace dagrad::scheduler {

namespace {

// The activation `v` comes from, when it may move after its one reader: a unary node that
// commutes with a max, whose output nothing else reads.
int movable_activation(const Graph& g, const Value& v, int reader) {
  const Node& a = g.node(v.node);
  if (!a.op->flags.commutes_with_max || a.inputs.size() != 1 || a.outputs.size() != 1) return -1;
  if (a.inputs[0].type() != a.outputs[0] || g.users(a.id) != std::vector<int>{reader}) return -1;
  const Node& r = g.node(reader);
  for (size_t slot = 1; slot < r.inputs.size(); ++slot)
    if (r.inputs[slot].node == a.id) return -1;
  return a.id;
}

}  // namespace

int commute_max(Graph& g) {
  int moved = 0;
  const int existing = static_cast<int>(g.num_nodes());
  for (int id = 0; id < existing; ++id) {
    const Node& pool = g.node(id);
    // A pool nothing reads is left alone: one already rewritten, or a requested output
    // (whose Value cannot be redirected).
    if (!pool.op->flags.selects_max || pool.inputs.empty() || g.users(id).empty()) continue;
    const int act = movable_activation(g, pool.inputs[0], id);
    if (act < 0) continue;
    // New nodes, numbered by the graph, at the originals' source lines.
    std::vector<Value> pool_inputs = pool.inputs;
    pool_inputs[0] = g.node(act).inputs[0];
    const int p2 = g.add_node(*pool.op, pool_inputs, pool.attrs, {}, std::source_location::current());
    g.node(p2).loc = g.node(id).loc;
    const int a2 =
        g.add_node(*g.node(act).op, {g.node(p2).output(0)}, g.node(act).attrs, {}, std::source_location::current());
    g.node(a2).loc = g.node(act).loc;
    // Readers of the pooled value read the activation after the pool; readers of other
    // outputs (max pooling's index) read the new pool's.
    for (int reader : g.users(id)) {
      if (reader == p2 || reader == a2) continue;
      std::vector<std::pair<int, Value>> changes;
      const std::vector<Value>& ins = g.node(reader).inputs;
      for (size_t slot = 0; slot < ins.size(); ++slot)
        if (ins[slot].node == id)
          changes.emplace_back(static_cast<int>(slot),
                               ins[slot].index == 0 ? g.node(a2).output(0) : g.node(p2).output(ins[slot].index));
      g.set_inputs(reader, changes);
    }
    ++moved;
  }
  return moved;
}

}  // namespace dagrad::scheduler
