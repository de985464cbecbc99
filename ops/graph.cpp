#include "ops/graph.h"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>
#include <iterator>
#include <set>
#include <sstream>
#include <unordered_map>

#include "ops/op_def.h"
#include "ops/params/source.h"
#include "ops/registry.h"
#include "runtime/error.h"

namespace dagrad {

// Data and control edges; vertex i is node i. vecS keeps iteration order, and so the
// topological order, deterministic.
struct Graph::Impl {
  using BGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
  BGraph g;
  std::unordered_map<std::string, int> by_name;
  // For each node whose outputs were overwritten in place: the node that wrote them.
  std::unordered_map<int, int> writer_of;
  // readers[n]: nodes that read an output of n (data edges), for ordering writers.
  std::vector<std::vector<int>> readers;
};

std::string TensorType::to_string() const { return shape.to_string() + " " + std::string(dtype_name(dtype)); }

SourceLoc SourceLoc::from(const std::source_location& l) {
  std::string f = l.file_name();
  auto slash = f.find_last_of('/');
  return {slash == std::string::npos ? f : f.substr(slash + 1), static_cast<int>(l.line())};
}

std::string SourceLoc::to_string() const { return file.empty() ? "?" : file + ":" + std::to_string(line); }

Node& Value::producer() const {
  if (!valid()) throw GraphError("use of an invalid (empty) Value");
  return graph->node(node);
}

const TensorType& Value::type() const {
  const Node& n = producer();
  if (index < 0 || index >= static_cast<int>(n.outputs.size()))
    throw GraphError(str_cat("node '", n.name, "' has no output ", index));
  return n.outputs[index];
}

Value Node::output(int i) const {
  DAGRAD_ASSERT(i >= 0 && i < static_cast<int>(outputs.size()));
  return Value{graph, id, i};
}

const std::string& Node::op_name() const { return op->name; }

Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() = default;

Node& Graph::node(int id) {
  if (id < 0 || id >= static_cast<int>(nodes_.size())) throw GraphError(str_cat("no node with id ", id));
  return *nodes_[id];
}
const Node& Graph::node(int id) const { return const_cast<Graph*>(this)->node(id); }

const Node& Graph::node(const std::string& name) const {
  auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end()) throw ValueError(str_cat("the graph has no node named '", name, "'"));
  return *nodes_[it->second];
}

bool Graph::has_node(const std::string& name) const { return impl_->by_name.count(name) != 0; }

namespace {
// The same exception type, naming the op (when the message does not already) and with
// the user's source line appended.
[[noreturn]] void rethrow_at(const OpDef& op, const Error& e, const SourceLoc& where) {
  std::string what = e.what();
  std::string msg = str_cat(what.starts_with("[") ? "" : "[" + op.name + "] ", what, " (at ", where.to_string(), ")");
  if (dynamic_cast<const ShapeError*>(&e)) throw ShapeError(msg);
  if (dynamic_cast<const TypeError*>(&e)) throw TypeError(msg);
  throw ValueError(msg);
}

void check_attrs(const OpDef& op, const Attrs& attrs) {
  const std::vector<AttrSpec>& schema = op.params.schema;
  for (const auto& [key, value] : attrs.values()) {
    const auto& wanted = key;  // clang -fopenmp cannot capture a structured binding
    auto spec = std::find_if(schema.begin(), schema.end(), [&](const AttrSpec& s) { return s.name == wanted; });
    if (spec == schema.end()) {
      std::string known;
      for (const auto& s : schema) known += (known.empty() ? "" : ", ") + s.name;
      throw ValueError(str_cat("[", op.name, "] unknown attribute '", key, "' (known: ",
                               known.empty() ? "none" : known, ")"));
    }
    static constexpr size_t kIndex[] = {0, 1, 2, 3, 4};  // AttrKind order == AttrValue order
    bool ok = value.index() == kIndex[static_cast<int>(spec->kind)] ||
              (spec->kind == AttrKind::Float && std::holds_alternative<int64_t>(value));
    if (!ok)
      throw ValueError(str_cat("[", op.name, "] attribute '", key, "' has the wrong type: ", attr_to_string(value)));
  }
  for (const auto& s : schema)
    if (s.required && !attrs.has(s.name))
      throw ValueError(str_cat("[", op.name, "] missing required attribute '", s.name, "'"));
}
}  // namespace

int Graph::add_node(const OpDef& op, std::vector<Value> inputs, Attrs attrs, std::string name,
                    const std::source_location& loc) {
  return add_node(op, std::move(inputs), std::move(attrs), nullptr, std::move(name), loc);
}

int Graph::add_node(const OpDef& op, std::vector<Value> inputs, Attrs attrs, std::shared_ptr<const void> params,
                    std::string name, const std::source_location& loc) {
  SourceLoc where = SourceLoc::from(loc);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].valid())
      throw GraphError(str_cat("[", op.name, "] input ", i, " is an empty Value (at ", where.to_string(), ")"));
    if (inputs[i].graph != this)
      throw GraphError(str_cat("[", op.name, "] input ", i, " belongs to another graph (at ", where.to_string(), ")"));
  }
  check_attrs(op, attrs);
  std::vector<TensorType> in_types;
  for (const Value& v : inputs) in_types.push_back(v.type());
  std::vector<TensorType> out_types;
  try {
    if (!params && op.params.decode) params = op.params.decode(attrs);
    if (op.params.type && !params)
      throw InternalError(str_cat("[", op.name, "] needs its parameters from its builder"));
    out_types = op.infer(InferContext{op, in_types, attrs, params.get()});
  } catch (const Error& e) {
    rethrow_at(op, e, where);
  }

  int id = static_cast<int>(nodes_.size());
  if (name.empty()) name = str_cat(op.name, "_", id);
  if (impl_->by_name.count(name)) throw GraphError(str_cat("[", op.name, "] a node named '", name, "' already exists"));

  auto node = std::make_unique<Node>();
  node->graph = this;
  node->id = id;
  node->op = &op;
  node->attrs = std::move(attrs);
  node->decoded = std::move(params);
  node->inputs = std::move(inputs);
  node->outputs = std::move(out_types);
  node->name = name;
  node->loc = where;

  boost::add_vertex(impl_->g);
  impl_->readers.emplace_back();
  impl_->by_name[name] = id;
  std::set<int> preds;
  for (const Value& v : node->inputs) preds.insert(v.node);
  for (int p : preds) {
    boost::add_edge(p, id, impl_->g);
    impl_->readers[p].push_back(id);
    // Reading a value after it was overwritten in place: run after the writer.
    if (auto w = impl_->writer_of.find(p); w != impl_->writer_of.end() && w->second != id)
      boost::add_edge(w->second, id, impl_->g);
  }
  nodes_.push_back(std::move(node));
  // An in-place writer runs after every earlier reader of what it overwrites.
  for (int slot : op.writes_inputs) {
    if (slot >= static_cast<int>(nodes_[id]->inputs.size())) continue;
    int target = nodes_[id]->inputs[slot].node;
    for (int reader : impl_->readers[target])
      if (reader != id) boost::add_edge(reader, id, impl_->g);
    impl_->writer_of[target] = id;
  }
  return id;
}

int Graph::add_node(const std::string& op_name, std::vector<Value> inputs, Attrs attrs, std::string name,
                    const std::source_location& loc) {
  return add_node(op_def(op_name), std::move(inputs), std::move(attrs), std::move(name), loc);
}

Value Graph::input(const std::string& name, const Shape& shape, DType dtype, const std::source_location& loc) {
  int id = add_node(op_def("input"), {}, encode_params(DeclParams{shape.dims(), dtype}), name, loc);
  return Value{this, id, 0};
}

Value Graph::parameter(const std::string& name, const Shape& shape, DType dtype, bool trainable,
                       const std::source_location& loc) {
  ParameterParams p;
  p.shape = shape.dims();
  p.dtype = dtype;
  p.trainable = trainable;
  int id = add_node(op_def("parameter"), {}, encode_params(p), name, loc);
  return Value{this, id, 0};
}

void Graph::set_attr(int id, const std::string& name, AttrValue value) {
  Node& n = node(id);
  Attrs attrs = n.attrs;
  attrs.set(name, std::move(value));
  try {
    check_attrs(*n.op, attrs);
    if (n.op->params.decode) n.decoded = n.op->params.decode(attrs);
  } catch (const Error& e) {
    rethrow_at(*n.op, e, n.loc);
  }
  n.attrs = std::move(attrs);
}

std::vector<Value> Graph::parameters(bool trainable_only) const {
  std::vector<Value> out;
  for (const auto& n : nodes_)
    if (n->op->flags.bound_parameter && (!trainable_only || n->params<ParameterParams>().trainable))
      out.push_back(Value{const_cast<Graph*>(this), n->id, 0});
  return out;
}

std::vector<Value> Graph::inputs() const {
  std::vector<Value> out;
  for (const auto& n : nodes_)
    if (n->op->flags.bound_input) out.push_back(Value{const_cast<Graph*>(this), n->id, 0});
  return out;
}

std::vector<int> Graph::users(int id) const {
  std::vector<int> out = impl_->readers.at(id);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int> Graph::dependencies(int id) const {
  std::vector<int> out;
  for (auto [it, end] = boost::in_edges(id, impl_->g); it != end; ++it)
    out.push_back(static_cast<int>(boost::source(*it, impl_->g)));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Graph::add_control_edge(int from, int to) {
  node(from);
  node(to);
  boost::add_edge(from, to, impl_->g);
}

int Graph::add_copy(int id, std::string name) {
  const Node& orig = node(id);
  // Writers that ran before `id` stay before the copy (add_node orders it after the
  // latest); those after `id` must now also wait for the copy.
  std::vector<int> later_writers;
  for (const Value& v : orig.inputs)
    if (auto w = impl_->writer_of.find(v.node); w != impl_->writer_of.end() && w->second > id)
      later_writers.push_back(w->second);
  std::vector<std::pair<int, int>> saved;
  for (int w : later_writers)
    for (const Value& v : orig.inputs)
      if (impl_->writer_of.count(v.node) && impl_->writer_of[v.node] == w) saved.emplace_back(v.node, w);
  for (const auto& [target, w] : saved) impl_->writer_of.erase(target);
  int copy = add_node(*orig.op, orig.inputs, orig.attrs, orig.decoded, std::move(name), std::source_location::current());
  for (const auto& [target, w] : saved) impl_->writer_of[target] = w;
  nodes_[copy]->loc = nodes_[id]->loc;
  for (int w : later_writers) boost::add_edge(copy, w, impl_->g);
  return copy;
}

void Graph::remove_control_edges_from(int id) {
  node(id);
  std::set<int> targets;
  for (auto [e, end] = boost::out_edges(id, impl_->g); e != end; ++e) targets.insert(static_cast<int>(boost::target(*e, impl_->g)));
  const auto& r = impl_->readers[id];
  for (int t : targets)
    if (std::find(r.begin(), r.end(), t) == r.end()) boost::remove_edge(id, t, impl_->g);
}

bool Graph::remove_control_edge(int from, int to) {
  node(from);
  node(to);
  const auto& r = impl_->readers[from];
  if (std::find(r.begin(), r.end(), to) != r.end()) return false;
  boost::remove_edge(from, to, impl_->g);
  return true;
}

void Graph::set_input(int id, int slot, Value v) { set_inputs(id, {{slot, v}}); }

void Graph::set_inputs(int id, const std::vector<std::pair<int, Value>>& changes) {
  Node& n = node(id);
  std::vector<TensorType> in_types;
  for (const Value& x : n.inputs) in_types.push_back(x.type());
  bool retyped = false;
  for (const auto& [slot, v] : changes) {
    if (slot < 0 || slot >= static_cast<int>(n.inputs.size()))
      throw GraphError(str_cat("[", n.op->name, "] node '", n.name, "' has no input ", slot));
    if (v.graph != this) throw GraphError(str_cat("[", n.op->name, "] set_input: value belongs to another graph"));
    retyped = retyped || v.type() != in_types[slot];
    in_types[slot] = v.type();
  }
  if (retyped) {
    // Other types are fine when the op, inferring again, gives the same outputs (a
    // GEMM's float32 operands replaced by their bfloat16 casts, say).
    const auto& [slot, v] = changes.front();
    const std::string mismatch = str_cat("[", n.op->name, "] set_input: new input ", v.type().to_string(),
                                         " does not match ", n.inputs[slot].type().to_string(), " and node '", n.name,
                                         "' ");
    std::vector<TensorType> out_types;
    try {
      out_types = n.op->infer(InferContext{*n.op, in_types, n.attrs, n.decoded.get()});
    } catch (const Error& e) {
      throw ShapeError(str_cat(mismatch, "refuses it: ", e.what()));
    }
    if (out_types != n.outputs) throw ShapeError(str_cat(mismatch, "would change its outputs"));
  }
  for (const auto& [slot, v] : changes) {
    int old = n.inputs[slot].node;
    n.inputs[slot] = v;
    bool still_used = std::any_of(n.inputs.begin(), n.inputs.end(), [&](const Value& x) { return x.node == old; });
    if (!still_used) {
      boost::remove_edge(old, id, impl_->g);
      auto& r = impl_->readers[old];
      r.erase(std::remove(r.begin(), r.end(), id), r.end());
    }
    boost::add_edge(v.node, id, impl_->g);
    impl_->readers[v.node].push_back(id);
  }
}

void Graph::retire(int id) {
  for (const Value& v : node(id).inputs) {
    auto& r = impl_->readers[v.node];
    r.erase(std::remove(r.begin(), r.end(), id), r.end());
  }
}

std::vector<int> Graph::topo_order() const {
  std::vector<int> reversed;
  try {
    boost::topological_sort(impl_->g, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    throw GraphError("the graph has a cycle; dataflow graphs must be acyclic");
  }
  return {reversed.rbegin(), reversed.rend()};
}

std::vector<int> Graph::effect_nodes() const {
  std::vector<int> ids;
  for (const auto& n : nodes_)
    if (!n->op->writes_inputs.empty()) ids.push_back(n->id);
  return ids;
}

std::vector<int> Graph::needed_by(std::span<const Value> outputs, std::span<const int> roots) const {
  std::vector<char> seen(nodes_.size(), 0);
  std::vector<int> stack(roots.begin(), roots.end());
  for (const Value& v : outputs) {
    if (v.graph != this) throw GraphError("needed_by: an output belongs to another graph");
    stack.push_back(v.node);
  }
  while (!stack.empty()) {
    int n = stack.back();
    stack.pop_back();
    if (seen[n]) continue;
    seen[n] = 1;
    for (auto [it, end] = boost::in_edges(n, impl_->g); it != end; ++it)
      stack.push_back(static_cast<int>(boost::source(*it, impl_->g)));
  }
  std::vector<int> ids;
  for (size_t i = 0; i < seen.size(); ++i)
    if (seen[i]) ids.push_back(static_cast<int>(i));
  return ids;
}

std::string Graph::to_dot() const {
  std::ostringstream os;
  os << "digraph dagrad {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  for (const auto& n : nodes_) {
    std::string shapes;
    for (const auto& t : n->outputs) shapes += "\\n" + t.to_string();
    const OpKind kind = n->op->kind;
    const char* fill = kind == OpKind::source ? "#e8f0fe" : (kind == OpKind::elementwise ? "#e6f4ea" : "#ffffff");
    os << "  n" << n->id << " [label=\"" << n->name << "\\n" << n->op->name << shapes
       << "\", style=filled, fillcolor=\"" << fill << "\"];\n";
  }
  for (const auto& n : nodes_) {
    std::set<int> data;
    for (const Value& v : n->inputs) data.insert(v.node);
    for (int p : data) os << "  n" << p << " -> n" << n->id << ";\n";
    for (auto [it, end] = boost::in_edges(n->id, impl_->g); it != end; ++it) {
      int p = static_cast<int>(boost::source(*it, impl_->g));
      if (!data.count(p)) os << "  n" << p << " -> n" << n->id << " [style=dashed];\n";
    }
  }
  os << "}\n";
  return os.str();
}

}  // namespace dagrad
