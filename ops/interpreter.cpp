#include "ops/interpreter.h"

#include <algorithm>

#include "ops/kernel_table.h"
#include "runtime/error.h"

namespace dagrad {

void check_bindings(const Graph& g, std::span<const int> ids, const TensorMap& bindings) {
  for (int id : ids) {
    const Node& n = g.node(id);
    if (!n.op->flags.bound()) continue;
    auto it = bindings.find(n.name);
    if (it == bindings.end() || !it->second.defined())
      throw ValueError(str_cat("[", n.op_name(), "] no tensor bound for '", n.name, "' (expected ",
                               n.outputs[0].to_string(), ")"));
    const Tensor& t = it->second;
    if (t.shape() != n.outputs[0].shape || t.dtype() != n.outputs[0].dtype)
      throw ShapeError(str_cat("[", n.op_name(), "] tensor bound for '", n.name, "' is ", t.shape().to_string(), " ",
                               dtype_name(t.dtype()), " but the graph expects ", n.outputs[0].to_string()));
  }
}

std::vector<Tensor> interpret(const Graph& g, std::span<const Value> outputs, const TensorMap& bindings,
                              uint64_t step) {
  std::vector<int> needed = g.needed_by(outputs, g.effect_nodes());
  std::vector<char> is_needed(g.num_nodes(), 0);
  for (int id : needed) is_needed[id] = 1;
  check_bindings(g, needed, bindings);

  std::vector<std::vector<Tensor>> values(g.num_nodes());
  for (int id : g.topo_order()) {
    if (!is_needed[id]) continue;
    const Node& n = g.node(id);
    const OpDef& op = *n.op;
    std::vector<Tensor>& outs = values[id];
    if (op.flags.bound()) {
      outs = {bindings.at(n.name)};
      continue;
    }
    std::vector<Tensor> ins;
    for (const Value& v : n.inputs) ins.push_back(values[v.node][v.index]);
    if (op.flags.view) {
      outs = {ins[0].view(n.outputs[0].shape)};
      continue;
    }
    for (const TensorType& t : n.outputs) outs.push_back(Tensor::empty(t.shape, t.dtype));
    const KernelTable& table = kernel_table(DeviceType::cpu);
    if (Kernel k = table.find(op)) {
      k(KernelContext{n, ins, outs, step, nullptr});
    } else if (op.elementwise) {
      table.elementwise(ElementwiseProgram::from_node(n), ins, outs, nullptr);
    } else {
      throw ValueError(str_cat("[", op.name, "] has no CPU kernel"));
    }
  }
  std::vector<Tensor> result;
  for (const Value& v : outputs) result.push_back(values[v.node][v.index]);
  return result;
}

}  // namespace dagrad
