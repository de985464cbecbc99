#include "scheduler/mixed_precision.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "ops/builtin_ops.h"
#include "ops/op_def.h"
#include "ops/params/cast.h"
#include "runtime/error.h"

namespace dagrad::scheduler {

namespace {

// The node's multiplied operands, when they are all float32 (mixed or other dtypes are
// left as their author wrote them).
std::vector<int> float32_operands(const Node& n) {
  std::vector<int> slots;
  for (int slot : n.op->low_precision_inputs) {
    if (slot >= static_cast<int>(n.inputs.size())) continue;
    if (n.inputs[slot].dtype() != DType::f32) return {};
    slots.push_back(slot);
  }
  return slots;
}

// A node that overwrites `v` in place (an optimizer update), or -1.
int in_place_writer(const Graph& g, const Value& v) {
  for (int reader : g.users(v.node)) {
    const Node& r = g.node(reader);
    for (int slot : r.op->writes_inputs)
      if (slot < static_cast<int>(r.inputs.size()) && r.inputs[slot] == v) return reader;
  }
  return -1;
}

// Whether every reader of v is one of `products` reading it only as a multiplied operand.
bool only_products_read(const Graph& g, const Value& v, const std::set<int>& products) {
  for (int reader : g.users(v.node)) {
    const Node& r = g.node(reader);
    const std::vector<int> operands = float32_operands(r);
    for (size_t slot = 0; slot < r.inputs.size(); ++slot)
      if (r.inputs[slot] == v && (!products.count(reader) || std::find(operands.begin(), operands.end(),
                                                                       static_cast<int>(slot)) == operands.end()))
        return false;
  }
  return true;
}

}  // namespace

std::vector<int> float32_products(const Graph& g) {
  std::vector<int> ids;
  for (size_t id = 0; id < g.num_nodes(); ++id)
    if (!float32_operands(g.node(static_cast<int>(id))).empty()) ids.push_back(static_cast<int>(id));
  return ids;
}

MixedPrecisionResult apply_mixed_precision(Graph& g, DType low, bool move_casts) {
  if (!is_half(low))
    throw ValueError(str_cat("[mixed precision] the low precision must be bfloat16 or float16, got ", dtype_name(low)));
  MixedPrecisionResult result;
  const std::vector<int> targets = float32_products(g);
  // Refuse before changing anything.
  for (int id : targets)
    for (int slot : float32_operands(g.node(id))) {
      const Value v = g.node(id).inputs[slot];
      if (int w = in_place_writer(g, v); w >= 0)
        throw ValueError(str_cat("[mixed precision] '", v.producer().name, "' is already overwritten in place by '",
                                 g.node(w).name, "'; apply the pass before the optimizer's update nodes are added"));
    }
  const std::set<int> products(targets.begin(), targets.end());
  std::map<std::pair<int, int>, Value> cast_of;  // (node, output) -> its 16-bit copy
  // v's copy, made once: v's producer run again on its input's copy when it only moves
  // that input's values and only products read v (or it is a view), otherwise a cast of v.
  // Named after the value it copies ("conv1.weight.bf16"), at that value's source line.
  std::function<Value(const Value&)> low_copy = [&](const Value& v) -> Value {
    if (auto it = cast_of.find({v.node, v.index}); it != cast_of.end()) return it->second;
    const Node& src = v.producer();
    std::string name = str_cat(src.name, v.index ? str_cat(":", v.index) : std::string(), ".", dtype_short_name(low));
    if (g.has_node(name)) name.clear();  // taken: the graph numbers it
    const SourceLoc loc = src.loc;
    int copy;
    // A view (reshape) costs nothing to make again, so its copy is always the view of its
    // input's copy, which the input's other products share: one cast per buffer.
    if (move_casts && v.index == 0 && src.op->moves_input0 && src.op->moves_input0(src) &&
        (src.op->flags.view || only_products_read(g, v, products))) {
      const OpDef& op = *src.op;
      const Attrs attrs = src.attrs;
      std::vector<Value> inputs = src.inputs;
      inputs[0] = low_copy(inputs[0]);  // adds nodes: `src` may move
      copy = g.add_node(op, inputs, attrs, name, std::source_location::current());
      ++result.moved;
    } else {
      copy = g.add_node(*op::cast, {v}, encode_params(CastParams{low}), name, std::source_location::current());
      ++result.casts;
    }
    g.node(copy).loc = loc;
    return cast_of[{v.node, v.index}] = g.node(copy).output();
  };
  for (int id : targets) {
    std::vector<std::pair<int, Value>> changes;
    for (int slot : float32_operands(g.node(id))) changes.emplace_back(slot, low_copy(g.node(id).inputs[slot]));
    g.set_inputs(id, changes);
    ++result.products;
  }
  // A mask read only for its sign (relu_backward's activation) reads the bfloat16 copy
  // instead, so the float32 activation need not be stored or kept for the backward pass.
  // Rounding to bfloat16 keeps float32's exponent range, so every sign survives except
  // on magnitudes up to 2^-134, which round to zero; float16 would zero everything up to
  // 2^-25, which activations can reach, so it keeps its float32 masks.
  if (low == DType::bf16) {
    for (size_t id = 0; id < g.num_nodes(); ++id) {
      const Node& n = g.node(static_cast<int>(id));
      std::vector<std::pair<int, Value>> changes;
      for (int slot : n.op->sign_only_inputs) {
        if (slot >= static_cast<int>(n.inputs.size()) || n.inputs[slot].dtype() != DType::f32) continue;
        if (auto it = cast_of.find({n.inputs[slot].node, n.inputs[slot].index}); it != cast_of.end())
          changes.emplace_back(slot, it->second);
      }
      if (changes.empty()) continue;
      g.set_inputs(static_cast<int>(id), changes);
      ++result.masks;
    }
  }
  return result;
}

}  // namespace dagrad::scheduler
