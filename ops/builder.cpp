#include "ops/ops.h"
#include "ops/registry.h"
#include "runtime/error.h"

namespace dagrad {

std::vector<Value> apply_multi(const std::string& op, std::vector<Value> inputs, Attrs attrs,
                               const std::source_location& loc) {
  if (inputs.empty() || !inputs[0].valid())
    throw GraphError(str_cat("[", op, "] needs at least one valid input to know its graph"));
  Graph& g = *inputs[0].graph;
  int id = g.add_node(op_def(op), std::move(inputs), std::move(attrs), {}, loc);
  std::vector<Value> outs;
  for (size_t i = 0; i < g.node(id).outputs.size(); ++i) outs.push_back(Value{&g, id, static_cast<int>(i)});
  return outs;
}

Value apply(const std::string& op, std::vector<Value> inputs, Attrs attrs, const std::source_location& loc) {
  auto outs = apply_multi(op, std::move(inputs), std::move(attrs), loc);
  if (outs.empty()) throw GraphError(str_cat("[", op, "] has no outputs; use apply_multi"));
  return outs[0];
}

}  // namespace dagrad
