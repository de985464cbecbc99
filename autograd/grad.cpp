#include "autograd/grad.h"

#include <algorithm>
#include <string>

#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/error.h"

namespace dagrad::autograd {

namespace {

// Per forward value (node id, output index) of the graph as it was before grad().
template <class T>
class ValueTable {
 public:
  ValueTable(const Graph& g, int num_nodes, T init) : cells_(num_nodes) {
    for (int id = 0; id < num_nodes; ++id) cells_[id].assign(g.node(id).outputs.size(), init);
  }
  T& operator[](const Value& v) { return cells_[v.node][v.index]; }
  std::vector<T>& outputs_of(int id) { return cells_[id]; }

 private:
  std::vector<std::vector<T>> cells_;
};

// "'conv1.weight'" or "'split_4' output 1", for error messages.
std::string describe(const Value& v) {
  const Node& n = v.producer();
  std::string s = str_cat("'", n.name, "'");
  if (n.outputs.size() > 1) s += str_cat(" output ", v.index);
  return s;
}

void check_belongs(const Graph& g, const Value& v, const std::string& what) {
  if (!v.valid()) throw GraphError(str_cat("[grad] ", what, " is an empty Value"));
  if (v.graph != &g) throw GraphError(str_cat("[grad] ", what, " ", describe(v), " belongs to another graph"));
  v.type();  // throws GraphError for a bad output index
}

bool is_nondiff(const OpDef& op, int slot) {
  return std::find(op.nondiff_inputs.begin(), op.nondiff_inputs.end(), slot) != op.nondiff_inputs.end();
}

void check_loss_and_wrt(const Graph& g, const Value& loss, std::span<const Value> wrt, const Value& seed) {
  check_belongs(g, loss, "the loss");
  if (!is_float(loss.dtype()))
    throw TypeError(str_cat("[grad] the loss ", describe(loss), " is ", loss.type().to_string(),
                            "; only floating-point values can be differentiated"));
  for (size_t i = 0; i < wrt.size(); ++i) {
    check_belongs(g, wrt[i], str_cat("wrt[", i, "]"));
    if (!is_float(wrt[i].dtype()))
      throw TypeError(str_cat("[grad] cannot take the gradient with respect to ", describe(wrt[i]), " (",
                              wrt[i].type().to_string(), "): only floating-point values have gradients"));
  }
  if (seed.valid()) {
    check_belongs(g, seed, "the seed gradient");
    if (seed.shape() != loss.shape())
      throw ShapeError(str_cat("[grad] the seed gradient ", describe(seed), " has shape ", seed.shape().to_string(),
                               " but the loss ", describe(loss), " has shape ", loss.shape().to_string()));
    if (seed.dtype() != loss.dtype())
      throw TypeError(str_cat("[grad] the seed gradient ", describe(seed), " is ", dtype_name(seed.dtype()),
                              " but the loss ", describe(loss), " is ", dtype_name(loss.dtype())));
  } else if (loss.shape().numel() != 1) {
    throw ShapeError(str_cat("[grad] the loss ", describe(loss), " has shape ", loss.shape().to_string(),
                             ", not a scalar: reduce it (sum, mean) or pass a seed gradient of shape ",
                             loss.shape().to_string()));
  }
}

}  // namespace

std::vector<Value> grad(Graph& g, Value loss, std::span<const Value> wrt, Value seed) {
  check_loss_and_wrt(g, loss, wrt, seed);

  // Only the forward graph as it is now is differentiated; vjp rules append after it.
  const int num_nodes = static_cast<int>(g.num_nodes());
  const std::vector<int> order = g.topo_order();

  // origin[v]: the first wrt that v depends on through differentiable inputs, or -1.
  ValueTable<int> origin(g, num_nodes, -1);
  for (int i = static_cast<int>(wrt.size()) - 1; i >= 0; --i) origin[wrt[i]] = i;
  for (int id : order) {
    const Node& n = g.node(id);
    int from = -1;
    for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
      int o = is_nondiff(*n.op, static_cast<int>(slot)) ? -1 : origin[n.inputs[slot]];
      if (o >= 0 && (from < 0 || o < from)) from = o;
    }
    if (from < 0) continue;
    for (int& o : origin.outputs_of(id))
      if (o < 0 || from < o) o = from;
  }

  // reaches[v]: the loss depends on v through differentiable inputs.
  ValueTable<char> reaches(g, num_nodes, 0);
  reaches[loss] = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Node& n = g.node(*it);
    const auto& outs = reaches.outputs_of(*it);
    if (std::none_of(outs.begin(), outs.end(), [](char r) { return r != 0; })) continue;
    for (size_t slot = 0; slot < n.inputs.size(); ++slot)
      if (!is_nondiff(*n.op, static_cast<int>(slot))) reaches[n.inputs[slot]] = 1;
  }

  // The nodes to differentiate and, per input, whether its gradient is wanted. All
  // checks run before the first backward node is appended, so a refused grad() leaves
  // the graph as it was.
  std::vector<std::vector<bool>> needs_grad(num_nodes);
  for (int id : order) {
    const Node& n = g.node(id);
    bool on_path = false;
    for (size_t k = 0; k < n.outputs.size(); ++k)
      on_path |= reaches[n.output(static_cast<int>(k))] && origin[n.output(static_cast<int>(k))] >= 0;
    if (!on_path) continue;
    std::vector<bool> needs(n.inputs.size(), false);
    int from = -1;
    for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
      const Value& in = n.inputs[slot];
      if (is_nondiff(*n.op, static_cast<int>(slot)) || origin[in] < 0 || !is_float(in.dtype())) continue;
      needs[slot] = true;
      if (from < 0 || origin[in] < from) from = origin[in];
    }
    if (from < 0) continue;  // a wrt itself, or reached only through integer values
    if (!n.op->vjp)
      throw ValueError(str_cat("[", n.op_name(), "] is not differentiable (node '", n.name, "' at ", n.loc.to_string(),
                               ") but lies between ", describe(wrt[from]), " and the loss ", describe(loss),
                               "; give the op a vjp rule, list the input in its nondiff_inputs if no gradient "
                               "flows through it, or compute it from values that need no gradient"));
    needs_grad[id] = std::move(needs);
  }

  ValueTable<Value> grads(g, num_nodes, Value{});
  grads[loss] = seed.valid() ? seed : ones_like(loss);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int id = *it;
    if (needs_grad[id].empty()) continue;
    const Node& n = g.node(id);
    const std::vector<Value>& grad_outputs = grads.outputs_of(id);
    if (std::none_of(grad_outputs.begin(), grad_outputs.end(), [](const Value& v) { return v.valid(); }))
      continue;  // every consumer's vjp returned "no gradient"
    std::vector<Value> outputs;
    for (size_t k = 0; k < n.outputs.size(); ++k) outputs.push_back(n.output(static_cast<int>(k)));
    VjpContext ctx{g, n, n.inputs, std::move(outputs), grad_outputs, needs_grad[id]};
    std::vector<Value> grad_inputs = n.op->vjp(ctx);
    if (grad_inputs.size() != n.inputs.size())
      throw InternalError(str_cat("[", n.op_name(), "] vjp returned ", grad_inputs.size(), " gradients for ",
                                  n.inputs.size(), " inputs (node '", n.name, "')"));
    // Slot order within a node and reverse topological order across nodes make the
    // summation order at fan-out, and so the rounding, deterministic.
    for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
      const Value& gi = grad_inputs[slot];
      if (!needs_grad[id][slot] || !gi.valid()) continue;
      const Value& in = n.inputs[slot];
      if (gi.graph != &g || gi.type() != in.type())
        throw InternalError(str_cat("[", n.op_name(), "] vjp returned a gradient of type ",
                                    gi.graph == &g ? gi.type().to_string() : "<another graph's value>", " for input ",
                                    slot, " of type ", in.type().to_string(), " (node '", n.name, "')"));
      Value& acc = grads[in];
      acc = acc.valid() ? add(acc, gi) : gi;
    }
  }

  std::vector<Value> result;
  result.reserve(wrt.size());
  for (const Value& w : wrt) result.push_back(grads[w].valid() ? grads[w] : zeros_like(w));
  return result;
}

std::vector<Value> grad(Graph& g, Value loss, std::vector<Value> wrt, Value seed) {
  return grad(g, loss, std::span<const Value>(wrt), seed);
}

std::vector<Value> hvp(Graph& g, Value loss, std::span<const Value> wrt, std::span<const Value> v) {
  if (v.size() != wrt.size())
    throw ValueError(str_cat("[hvp] got ", v.size(), " vectors for ", wrt.size(), " wrt values; pass one per wrt"));
  for (size_t i = 0; i < v.size(); ++i) {
    check_belongs(g, v[i], str_cat("v[", i, "]"));
    check_belongs(g, wrt[i], str_cat("wrt[", i, "]"));
    if (v[i].type() != wrt[i].type())
      throw ShapeError(str_cat("[hvp] v[", i, "] ", describe(v[i]), " is ", v[i].type().to_string(), " but wrt[", i,
                               "] ", describe(wrt[i]), " is ", wrt[i].type().to_string()));
  }
  if (wrt.empty()) return {};
  // v must be a constant of the differentiation, or the second grad() would also
  // differentiate through it.
  std::vector<int> under_v = g.needed_by(v);
  for (size_t i = 0; i < wrt.size(); ++i)
    if (std::binary_search(under_v.begin(), under_v.end(), wrt[i].node))
      throw ValueError(str_cat("[hvp] the vectors v depend on wrt[", i, "] ", describe(wrt[i]),
                               "; compute v independently of wrt (e.g. as graph inputs)"));
  std::vector<Value> first = grad(g, loss, wrt);
  // H·v = d/dwrt <d loss/d wrt, v>, with v held constant.
  Value dot;
  for (size_t i = 0; i < wrt.size(); ++i) {
    Value term = sum(mul(first[i], v[i]));
    dot = dot.valid() ? add(dot, term) : term;
  }
  return grad(g, dot, wrt);
}

}  // namespace dagrad::autograd
