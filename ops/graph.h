// The graph IR: a Graph owns Nodes; a Node applies one op (a registry entry) to input
// Values and produces typed outputs. Parameters and inputs are nodes too. Graphs are
// append-only and in program order: autograd and optimizers append to the same graph.
//
// Edges live in a boost::adjacency_list behind this interface (graph.cpp), so passes get
// Boost.Graph's algorithms while op code never sees Boost.
#pragma once
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ops/attrs.h"
#include "runtime/dtype.h"
#include "runtime/shape.h"

namespace dagrad {

struct OpDef;
class Graph;
struct Node;

struct TensorType {
  Shape shape;
  DType dtype = DType::f32;
  bool operator==(const TensorType&) const = default;
  std::string to_string() const;  // "[64,10] float32"
};

// Output `index` of node `node` in `graph`. Cheap to copy; valid while the graph lives.
struct Value {
  Graph* graph = nullptr;
  int node = -1;
  int index = 0;

  bool valid() const { return graph != nullptr && node >= 0; }
  Node& producer() const;
  const TensorType& type() const;
  const Shape& shape() const { return type().shape; }
  DType dtype() const { return type().dtype; }
  int64_t dim(int i) const { return shape().dim(i); }
  bool operator==(const Value& o) const { return graph == o.graph && node == o.node && index == o.index; }
};

// Where in the user's program a node was built; shown in errors and plan views.
struct SourceLoc {
  std::string file;
  int line = 0;
  static SourceLoc from(const std::source_location& l);
  std::string to_string() const;  // "mnist_cnn.cpp:21"
};

struct Node {
  Graph* graph = nullptr;
  int id = -1;
  const OpDef* op = nullptr;
  Attrs attrs;
  std::vector<Value> inputs;
  std::vector<TensorType> outputs;
  std::string name;  // unique in the graph: "conv1.weight", "relu_7"
  SourceLoc loc;
  // The op's typed parameters (ops/params/*.h), decoded once from attrs when the node
  // was added; null for ops without parameters.
  std::shared_ptr<const void> decoded;

  Value output(int i = 0) const;
  const std::string& op_name() const;
  // The parameter struct P of this node's op (asserts that P is the op's struct);
  // defined in ops/op_def.h.
  template <class P>
  const P& params() const;
};

class Graph {
 public:
  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Appends a node: checks the attributes against the op's schema, that every input
  // belongs to this graph, and infers output types (errors name the op, the shapes and
  // `loc`). An empty name gets "<op>_<id>". Returns the node's id.
  int add_node(const OpDef& op, std::vector<Value> inputs, Attrs attrs, std::string name,
               const std::source_location& loc);
  // For ops whose parameters are supplied by their builder (ParamCodec without decode,
  // e.g. a communicator): `params` must point to the op's struct.
  int add_node(const OpDef& op, std::vector<Value> inputs, Attrs attrs, std::shared_ptr<const void> params,
               std::string name, const std::source_location& loc);
  int add_node(const std::string& op_name, std::vector<Value> inputs, Attrs attrs = {},
               std::string name = {}, const std::source_location& loc = std::source_location::current());

  // Graph inputs (bound to a tensor per run) and parameters (persistent state bound by
  // name, updated in place by optimizer nodes). Names must be unique.
  Value input(const std::string& name, const Shape& shape, DType dtype = DType::f32,
              const std::source_location& loc = std::source_location::current());
  Value parameter(const std::string& name, const Shape& shape, DType dtype = DType::f32,
                  bool trainable = true, const std::source_location& loc = std::source_location::current());

  size_t num_nodes() const { return nodes_.size(); }
  Node& node(int id);
  const Node& node(int id) const;
  // Nodes by name; throws ValueError naming the missing one.
  const Node& node(const std::string& name) const;
  bool has_node(const std::string& name) const;
  // Sets attribute `name` of node `id` and decodes its parameters again (e.g. a
  // data-parallel rank's dropout offset); its types do not change.
  void set_attr(int id, const std::string& name, AttrValue value);
  std::vector<Value> parameters(bool trainable_only = true) const;
  std::vector<Value> inputs() const;

  // Consumers of any output of `id` (data edges), without duplicates, ascending.
  std::vector<int> users(int id) const;
  // Predecessors: data inputs plus ordering-only dependencies (see add_control_edge).
  std::vector<int> dependencies(int id) const;

  // Makes `to` run after `from` without a data edge (used for in-place writes: a writer
  // runs after the earlier readers of what it overwrites).
  void add_control_edge(int from, int to);
  // Appends a copy of node `id` (same op, inputs, parameters and source line) that reads
  // its inputs as `id` does: before the in-place writers that `id` runs before (a
  // recomputation of `id`'s outputs later in the run). Returns the copy's id.
  int add_copy(int id, std::string name);
  // Removes the ordering-only edges out of `id` (to nodes that read none of its outputs).
  void remove_control_edges_from(int id);
  // Removes the ordering-only edge from `from` to `to`; false (and nothing removed) when
  // `to` reads an output of `from`.
  bool remove_control_edge(int from, int to);
  // Node `id` stops counting as a reader of its inputs (users(), and the in-place writers
  // added later, which run after every reader of what they overwrite): a rewrite that
  // replaced it leaves it in the graph for the Values that name it, and then nothing
  // orders after it, so no run needs it.
  void retire(int id);
  // Rewires input `slot` of node `id` to `v`, which has the old input's type or one with
  // which the op infers the same outputs (ShapeError otherwise). May create a cycle,
  // reported by topo_order().
  void set_input(int id, int slot, Value v);
  // Several inputs of node `id` at once, (slot, value) pairs: the types are checked with
  // all of them in place.
  void set_inputs(int id, const std::vector<std::pair<int, Value>>& changes);

  // Deterministic topological order of all nodes (Boost.Graph); throws GraphError on a cycle.
  std::vector<int> topo_order() const;
  // Ids of the nodes that `outputs` and the nodes `roots` need, ascending.
  std::vector<int> needed_by(std::span<const Value> outputs, std::span<const int> roots = {}) const;
  // Nodes whose op writes its inputs in place (optimizer updates, batch-norm running
  // statistics): they have effects beyond their outputs, so every run includes them.
  std::vector<int> effect_nodes() const;

  // Graphviz DOT: one box per node with its op, name and output shapes.
  std::string to_dot() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace dagrad
