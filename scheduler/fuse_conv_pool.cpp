#include "scheduler/fuse_conv_pool.h"

#include <algorithm>

#include "ops/builtin_ops.h"
#include "ops/op_def.h"
#include "ops/ops.h"

namespace dagrad::scheduler {

namespace {

bool requested(std::span<const Value> outputs, int node) {
  return std::any_of(outputs.begin(), outputs.end(), [&](const Value& v) { return v.node == node; });
}

// The readers of node id's outputs that the run needs (rewrites leave unread nodes behind;
// nodes added since `needed` was taken, fused ones, are needed).
std::vector<int> live_users(const Graph& g, int id, const std::vector<char>& needed) {
  std::vector<int> users = g.users(id);
  std::erase_if(users,
                [&](int u) { return static_cast<size_t>(u) < needed.size() && !needed[static_cast<size_t>(u)]; });
  return users;
}

}  // namespace

int fuse_conv_pool(Graph& g, std::span<const Value> outputs) {
  int fused = 0;
  const int existing = static_cast<int>(g.num_nodes());
  std::vector<char> needed(static_cast<size_t>(existing), 0);
  for (int id : g.needed_by(outputs, g.effect_nodes())) needed[static_cast<size_t>(id)] = 1;
  for (int id = 0; id < existing; ++id) {
    const Node& pool = g.node(id);
    if (pool.op != op::max_pool2d || !needed[static_cast<size_t>(id)] || requested(outputs, id)) continue;
    const Node& conv = pool.inputs[0].producer();
    if (conv.op != op::conv2d || live_users(g, conv.id, needed) != std::vector<int>{id} || requested(outputs, conv.id))
      continue;
    const Value bias = conv.inputs.size() > 2 ? conv.inputs[2] : Value{};
    const int f =
        conv2d_max_pool2d(conv.inputs[0], conv.inputs[1], bias, conv.params<ConvParams>(), pool.params<PoolParams>())
            .node;
    g.node(f).loc = g.node(id).loc;
    for (int reader : g.users(id)) {
      if (reader == f || !needed[static_cast<size_t>(reader)]) continue;
      std::vector<std::pair<int, Value>> changes;
      const std::vector<Value>& ins = g.node(reader).inputs;
      for (size_t slot = 0; slot < ins.size(); ++slot)
        if (ins[slot].node == id) changes.emplace_back(static_cast<int>(slot), g.node(f).output(ins[slot].index));
      g.set_inputs(reader, changes);
    }
    const int conv_id = g.node(id).inputs[0].node;  // `conv` and `pool` may have moved: nodes were added
    g.retire(conv_id);  // the parameters' updates, added later, must not order after it
    g.retire(id);
    ++fused;
  }
  return fused;
}

}  // namespace dagrad::scheduler
