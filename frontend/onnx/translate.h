// The translation of one ONNX node into dagrad ops (inside the importer). Each ONNX op
// is one small function keyed by (op type, first opset it applies to); the importer
// picks, for a node, the function with the largest opset not above the model's.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "frontend/onnx/errors.h"
#include "ops/graph.h"
#include "runtime/tensor.h"

namespace onnx {
class NodeProto;
class AttributeProto;
}  // namespace onnx

namespace dagrad::onnx {

// One ONNX value during import: computed in the graph, or known at import time
// (initializers used as constants, Constant nodes, and whatever is computed from those
// alone: the importer folds it). A known value is put into the graph (a constant node)
// the first time a translator asks for it as a Value.
struct Slot {
  // Member initialisers, so that Slot{.value = v} leaves the others empty without a warning.
  Value value = {};
  Tensor constant = {};
  Tensor offered = {};  // a graph input's value given at import time (Model::build's input_values)
  bool known() const { return constant.defined(); }
};

class NodeContext {
 public:
  NodeContext(Graph& g, const ::onnx::NodeProto& node, int opset, std::vector<Slot*> inputs);

  Graph& graph() { return graph_; }
  const ::onnx::NodeProto& node() const { return node_; }
  int opset() const { return opset_; }
  std::string describe() const;  // "node 'Conv_3' (Conv, opset 11)"

  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i]; }
  // Input i as a graph value; a missing (optional) input is an UnsupportedError.
  Value input(size_t i);
  DType dtype(size_t i);
  Shape shape(size_t i);
  // Input i's value at import time; UnsupportedError (naming `what`) when it is computed.
  const Tensor& known(size_t i, const char* what);
  bool is_known(size_t i) const { return has_input(i) && inputs_[i]->known(); }  // a constant
  // Whether known() can give input i: a constant, or an input's value offered at import.
  bool has_value(size_t i) const { return has_input(i) && (inputs_[i]->known() || inputs_[i]->offered.defined()); }
  std::vector<int64_t> known_ints(size_t i, const char* what);
  std::vector<double> known_doubles(size_t i, const char* what);

  bool has_attr(const char* name) const;
  int64_t attr_int(const char* name, int64_t dflt) const;
  double attr_float(const char* name, double dflt) const;
  std::string attr_string(const char* name, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> dflt = {}) const;
  std::vector<double> attr_floats(const char* name, std::vector<double> dflt = {}) const;
  Tensor attr_tensor(const char* name) const;
  // Fails for any attribute not in `known`: a silently ignored attribute would compute
  // something else than the model says.
  void accept_attrs(std::initializer_list<const char*> known) const;

  [[noreturn]] void unsupported(const std::string& why) const;
  [[noreturn]] void invalid(const std::string& why) const;  // the model is wrong (ValueError)
  // `axis` of a rank-`rank` tensor, made non-negative; invalid() outside [-rank, rank).
  int64_t axis(int64_t axis, int64_t rank) const;

 private:
  const ::onnx::AttributeProto* attr(const char* name) const;
  Graph& graph_;
  const ::onnx::NodeProto& node_;
  int opset_;
  std::vector<Slot*> inputs_;
};

// What a translator returns: one Slot per output it provides, in order.
using Outputs = std::vector<Slot>;
using TranslateFn = Outputs (*)(NodeContext& c);

struct Translator {
  const char* op_type;
  int since;  // the first opset this translation is right for
  TranslateFn fn;
};

// The translators of each family (translators_*.cpp).
std::span<const Translator> elementwise_translators();
std::span<const Translator> nn_translators();
std::span<const Translator> shape_translators();
std::span<const Translator> reduce_translators();
std::span<const Translator> resize_translators();

inline Outputs one(Value v) { return {Slot{.value = v}}; }

// dagrad's arithmetic kernels compute in float32 and float64; ONNX applies arithmetic,
// comparisons and reductions to integers and bool as well. Those compute in float64
// (exact for integers below 2^53; 16-bit floats in float32) and are cast back.
DType arithmetic_dtype(DType t);
Value as_dtype(Value v, DType t);  // v, cast to t when it is not already
inline Outputs known(Tensor t) { return {Slot{.constant = std::move(t)}}; }

}  // namespace dagrad::onnx
