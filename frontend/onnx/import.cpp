// The importer: parses a ModelProto (libonnx's classes), then walks its nodes in order,
// translating each with the function registered for its (op type, opset), keeping for
// every ONNX value name a Slot (a graph Value, or a tensor known at import time).
#include "frontend/onnx/import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "frontend/onnx/tensor_proto.h"
#include "frontend/onnx/translate.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/convert.h"

namespace dagrad::onnx {

namespace {

constexpr int kMaxOpset = 17;  // ONNX 1.12
// Values computed from constants alone are computed at import time, up to this size.
constexpr int64_t kMaxFoldBytes = int64_t{256} << 20;

// op type -> its translators, ordered by `since`.
const std::map<std::string, std::vector<Translator>>& translators() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, std::vector<Translator>>;
    for (auto family : {elementwise_translators(), nn_translators(), shape_translators(), reduce_translators(),
                        resize_translators()})
      for (const Translator& tr : family) (*t)[tr.op_type].push_back(tr);
    for (auto& [_, list] : *t)
      std::sort(list.begin(), list.end(), [](const Translator& a, const Translator& b) { return a.since < b.since; });
    return t;
  }();
  return *table;
}

std::string supported_list() {
  std::string s;
  for (const auto& [name, _] : translators()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

ValueInfo value_info(const ::onnx::ValueInfoProto& v) {
  ValueInfo info;
  info.name = v.name();
  if (!v.type().has_tensor_type())
    throw UnsupportedError(str_cat("'", v.name(), "' is not a tensor (sequences, maps and optionals are not supported)"));
  const auto& tt = v.type().tensor_type();
  info.dtype = dtype_from_onnx(tt.elem_type(), v.name());
  if (tt.has_shape())
    for (const auto& d : tt.shape().dim()) info.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return info;
}

// Constant-folding must not run ops whose result is not a function of their inputs.
bool foldable(const std::string& op_type) {
  static const std::set<std::string> random{"Dropout", "Bernoulli", "RandomNormalLike", "RandomUniformLike"};
  return !random.count(op_type);
}

}  // namespace

struct Model::Impl {
  ::onnx::ModelProto proto;
  int opset = 0;
  std::vector<ValueInfo> inputs, outputs;
  TensorMap initializers;
  std::string what;
};

Model Model::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(str_cat("cannot open ONNX model '", path.string(), "'"));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return parse(bytes.str(), str_cat("ONNX model '", path.string(), "'"));
}

Model Model::parse(std::string_view bytes, const std::string& what) {
  auto impl = std::make_shared<Impl>();
  impl->what = what;
  if (bytes.empty()) throw IoError(str_cat(what, " is empty"));
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !impl->proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw IoError(str_cat(what, " is not a valid ONNX model (corrupt or truncated protobuf)"));
  const auto& proto = impl->proto;
  if (!proto.has_graph()) throw IoError(str_cat(what, " has no graph"));
  for (const auto& op : proto.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") impl->opset = static_cast<int>(op.version());
  }
  if (impl->opset == 0) {
    if (proto.opset_import_size() == 0) impl->opset = 1;  // IR version 2 models: opset 1
    else throw UnsupportedError(str_cat(what, " imports no opset of the default ONNX domain"));
  }
  if (impl->opset > kMaxOpset)
    throw UnsupportedError(str_cat(what, " uses opset ", impl->opset, "; dagrad supports opsets 1 to ", kMaxOpset));
  const auto& g = proto.graph();
  std::set<std::string> init_names;
  for (const auto& t : g.initializer()) {
    init_names.insert(t.name());
    impl->initializers[t.name()] = tensor_from_proto(t);
  }
  if (g.sparse_initializer_size()) throw UnsupportedError(str_cat(what, " has sparse initializers"));
  for (const auto& v : g.input())
    if (!init_names.count(v.name())) impl->inputs.push_back(value_info(v));
  for (const auto& v : g.output()) impl->outputs.push_back(value_info(v));
  Model m;
  m.impl_ = std::move(impl);
  return m;
}

int Model::opset() const { return impl_->opset; }
const std::vector<ValueInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<ValueInfo>& Model::outputs() const { return impl_->outputs; }
const TensorMap& Model::initializers() const { return impl_->initializers; }

std::string Model::output_op_type() const {
  const auto& g = impl_->proto.graph();
  if (g.output_size() == 0) return "";
  for (const auto& n : g.node())
    for (const auto& o : n.output())
      if (o == g.output(0).name()) return n.op_type();
  return "";
}

std::string Model::description() const {
  const auto& g = impl_->proto.graph();
  return str_cat(impl_->what, " (graph '", g.name(), "', opset ", impl_->opset, ", ", g.node_size(), " nodes)");
}

std::vector<Value> Model::build(Graph& g, std::span<const Value> inputs, TensorMap* parameters,
                                const TensorMap* input_values) const {
  const Impl& m = *impl_;
  if (inputs.size() != m.inputs.size())
    throw ValueError(str_cat(description(), " has ", m.inputs.size(), " inputs, got ", inputs.size()));
  std::map<std::string, Slot> env;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& info = m.inputs[i];
    const Value& v = inputs[i];
    if (v.dtype() != info.dtype)
      throw TypeError(str_cat("ONNX input '", info.name, "' is ", dtype_name(info.dtype), ", got ",
                              dtype_name(v.dtype())));
    bool fits = info.dims.empty() || info.dims.size() == v.shape().rank();
    for (size_t d = 0; fits && d < info.dims.size(); ++d) fits = info.dims[d] < 0 || info.dims[d] == v.shape()[d];
    if (!fits)
      throw ShapeError(str_cat("ONNX input '", info.name, "' has shape ", attr_to_string(info.dims),
                               " (-1: any), got ", v.shape().to_string()));
    env[info.name].value = v;
    if (input_values)
      if (auto it = input_values->find(info.name); it != input_values->end()) env[info.name].offered = it->second;
  }
  for (const auto& [name, t] : m.initializers) {
    Slot& s = env[name];
    if (parameters && is_floating(t.dtype())) {
      s.value = g.has_node(name) ? g.node(name).output() : g.parameter(name, t.shape(), t.dtype(), /*trainable=*/true);
      if (s.value.type() != TensorType{t.shape(), t.dtype()} || !s.value.producer().op->flags.bound_parameter)
        throw GraphError(str_cat("ONNX initializer '", name, "' clashes with a graph node of that name"));
      (*parameters)[name] = t.clone();
    } else {
      s.constant = t;
    }
  }

  for (const ::onnx::NodeProto& node : m.proto.graph().node()) {
    const std::string& type = node.op_type();
    const int opset = m.opset;
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      throw UnsupportedError(str_cat("node '", node.name(), "' (", type, ") is in domain '", node.domain(),
                                     "'; dagrad supports the default ONNX domain only"));
    auto it = translators().find(type);
    if (it == translators().end())
      throw UnsupportedError(str_cat("node '", node.name(), "' (", type, ", opset ", opset, "): dagrad has no ", type,
                                     "; it supports ", supported_list()));
    const Translator* tr = nullptr;
    for (const Translator& t : it->second)
      if (t.since <= opset) tr = &t;
    if (!tr)
      throw UnsupportedError(str_cat("node '", node.name(), "' (", type, ", opset ", opset, "): dagrad supports ", type,
                                     " from opset ", it->second.front().since));
    std::vector<Slot*> ins;
    bool all_known = node.input_size() > 0;
    for (const std::string& name : node.input()) {
      if (name.empty()) {
        ins.push_back(nullptr);
        continue;
      }
      auto found = env.find(name);
      if (found == env.end())
        throw ValueError(str_cat("node '", node.name(), "' (", type, ") reads '", name, "', which nothing defines"));
      ins.push_back(&found->second);
      all_known = all_known && found->second.known();
    }
    NodeContext ctx(g, node, opset, ins);
    Outputs outs;
    try {
      outs = tr->fn(ctx);
      if (all_known && foldable(type)) {
        std::vector<Value> computed;
        int64_t bytes = 0;
        for (const Slot& s : outs)
          if (!s.known()) computed.push_back(s.value), bytes += s.value.shape().numel() * dtype_size(s.value.dtype());
        if (bytes > kMaxFoldBytes)
          ctx.unsupported(str_cat("it computes ", bytes, " bytes from constants; dagrad folds at most ", kMaxFoldBytes));
        std::vector<Tensor> values = interpret(g, computed, {});
        size_t k = 0;
        for (Slot& s : outs)
          if (!s.known()) s.constant = values[k++];
      }
    } catch (const UnsupportedError&) {
      throw;
    } catch (const Error& e) {
      const std::string msg = str_cat(ctx.describe(), ": ", e.what());
      if (dynamic_cast<const ShapeError*>(&e)) throw ShapeError(msg);
      if (dynamic_cast<const TypeError*>(&e)) throw TypeError(msg);
      throw ValueError(msg);
    }
    for (int k = 0; k < node.output_size(); ++k) {
      const std::string& name = node.output(k);
      if (name.empty()) continue;
      if (k >= static_cast<int>(outs.size())) ctx.unsupported(str_cat("output ", k, " ('", name, "') is not supported"));
      env[name] = outs[k];
    }
  }

  std::vector<Value> result;
  for (const ValueInfo& out : m.outputs) {
    auto it = env.find(out.name);
    if (it == env.end()) throw ValueError(str_cat(description(), ": nothing computes the output '", out.name, "'"));
    Slot& s = it->second;
    if (!s.value.valid()) s.value = constant(g, s.constant);
    result.push_back(s.value);
  }
  return result;
}

Imported import_model(const Model& model, const InputShapes& shapes, Initializers init,
                      const TensorMap* input_values) {
  Imported im;
  im.graph = std::make_unique<Graph>();
  for (const ValueInfo& in : model.inputs()) {
    std::vector<int64_t> dims = in.dims;
    if (auto it = shapes.find(in.name); it != shapes.end()) dims = it->second;
    for (int64_t d : dims)
      if (d < 0)
        throw ValueError(str_cat("ONNX input '", in.name, "' has a symbolic dimension (shape ", attr_to_string(in.dims),
                                 "); give its shape"));
    im.inputs.push_back(im.graph->input(in.name, Shape(dims), in.dtype));
  }
  im.outputs =
      model.build(*im.graph, im.inputs, init == Initializers::parameters ? &im.parameters : nullptr, input_values);
  return im;
}

Imported import(const std::filesystem::path& path, const InputShapes& shapes, Initializers init) {
  return import_model(Model::load(path), shapes, init);
}

Imported import_from_memory(std::string_view bytes, const InputShapes& shapes, Initializers init) {
  return import_model(Model::parse(bytes), shapes, init);
}

// ---- NodeContext ----

NodeContext::NodeContext(Graph& g, const ::onnx::NodeProto& node, int opset, std::vector<Slot*> inputs)
    : graph_(g), node_(node), opset_(opset), inputs_(std::move(inputs)) {}

std::string NodeContext::describe() const {
  return str_cat("node '", node_.name(), "' (", node_.op_type(), ", opset ", opset_, ")");
}

void NodeContext::unsupported(const std::string& why) const { throw UnsupportedError(str_cat(describe(), ": ", why)); }
void NodeContext::invalid(const std::string& why) const { throw ValueError(str_cat(describe(), ": ", why)); }

int64_t NodeContext::axis(int64_t axis, int64_t rank) const {
  if (axis < -rank || axis >= rank) invalid(str_cat("axis ", axis, " is out of range for rank ", rank));
  return axis < 0 ? axis + rank : axis;
}

Value NodeContext::input(size_t i) {
  if (!has_input(i)) unsupported(str_cat("input ", i, " is missing"));
  Slot& s = *inputs_[i];
  if (!s.value.valid()) s.value = constant(graph_, s.constant);
  return s.value;
}

DType NodeContext::dtype(size_t i) {
  if (!has_input(i)) unsupported(str_cat("input ", i, " is missing"));
  const Slot& s = *inputs_[i];
  return s.known() ? s.constant.dtype() : s.value.dtype();
}

Shape NodeContext::shape(size_t i) {
  if (!has_input(i)) unsupported(str_cat("input ", i, " is missing"));
  const Slot& s = *inputs_[i];
  return s.known() ? s.constant.shape() : s.value.shape();
}

const Tensor& NodeContext::known(size_t i, const char* what) {
  if (!has_input(i)) unsupported(str_cat("its ", what, " (input ", i, ") is missing"));
  const Slot& s = *inputs_[i];
  if (s.known()) return s.constant;
  if (s.offered.defined()) return s.offered;
  unsupported(str_cat("its ", what, " (input ", i, ") is computed in the graph; dagrad needs it known when the "
                      "model is imported (static shapes)"));
}

std::vector<int64_t> NodeContext::known_ints(size_t i, const char* what) {
  const Tensor& t = known(i, what);
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  dispatch_all(t.dtype(), [&]<class T>() {
    for (int64_t k = 0; k < t.numel(); ++k) out[k] = convert<int64_t>(t.data<T>()[k]);
  });
  return out;
}

std::vector<double> NodeContext::known_doubles(size_t i, const char* what) {
  const Tensor& t = known(i, what);
  std::vector<double> out(static_cast<size_t>(t.numel()));
  dispatch_all(t.dtype(), [&]<class T>() {
    for (int64_t k = 0; k < t.numel(); ++k) out[k] = convert<double>(t.data<T>()[k]);
  });
  return out;
}

const ::onnx::AttributeProto* NodeContext::attr(const char* name) const {
  for (const auto& a : node_.attribute())
    if (a.name() == name) {
      if (!a.ref_attr_name().empty()) unsupported(str_cat("attribute '", name, "' refers to a function's attribute"));
      return &a;
    }
  return nullptr;
}

bool NodeContext::has_attr(const char* name) const { return attr(name) != nullptr; }

int64_t NodeContext::attr_int(const char* name, int64_t dflt) const {
  const auto* a = attr(name);
  if (!a) return dflt;
  if (a->type() != ::onnx::AttributeProto::INT) invalid(str_cat("attribute '", name, "' should be an integer"));
  return a->i();
}

double NodeContext::attr_float(const char* name, double dflt) const {
  const auto* a = attr(name);
  if (!a) return dflt;
  if (a->type() == ::onnx::AttributeProto::INT) return static_cast<double>(a->i());
  if (a->type() != ::onnx::AttributeProto::FLOAT) invalid(str_cat("attribute '", name, "' should be a number"));
  return a->f();
}

std::string NodeContext::attr_string(const char* name, const std::string& dflt) const {
  const auto* a = attr(name);
  if (!a) return dflt;
  if (a->type() != ::onnx::AttributeProto::STRING) invalid(str_cat("attribute '", name, "' should be a string"));
  return a->s();
}

std::vector<int64_t> NodeContext::attr_ints(const char* name, std::vector<int64_t> dflt) const {
  const auto* a = attr(name);
  if (!a) return dflt;
  if (a->type() != ::onnx::AttributeProto::INTS) invalid(str_cat("attribute '", name, "' should be a list of integers"));
  return {a->ints().begin(), a->ints().end()};
}

std::vector<double> NodeContext::attr_floats(const char* name, std::vector<double> dflt) const {
  const auto* a = attr(name);
  if (!a) return dflt;
  if (a->type() != ::onnx::AttributeProto::FLOATS) invalid(str_cat("attribute '", name, "' should be a list of numbers"));
  return {a->floats().begin(), a->floats().end()};
}

Tensor NodeContext::attr_tensor(const char* name) const {
  const auto* a = attr(name);
  if (!a || a->type() != ::onnx::AttributeProto::TENSOR) invalid(str_cat("attribute '", name, "' should be a tensor"));
  return tensor_from_proto(a->t());
}

void NodeContext::accept_attrs(std::initializer_list<const char*> known) const {
  for (const auto& a : node_.attribute()) {
    bool ok = false;
    for (const char* k : known) ok = ok || a.name() == k;
    if (!ok) unsupported(str_cat("attribute '", a.name(), "' is not supported"));
  }
}

}  // namespace dagrad::onnx
