// The exporter: one small function per dagrad op type writes its ONNX node(s).
#include "frontend/onnx/export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "frontend/data/atomic_file.h"
#include "frontend/onnx/tensor_proto.h"
#include "ops/op_def.h"
#include "ops/params/attention.h"
#include "ops/params/cast.h"
#include "ops/params/conv.h"
#include "ops/params/elementwise.h"
#include "ops/params/index.h"
#include "ops/params/linalg.h"
#include "ops/params/nn.h"
#include "ops/params/norm.h"
#include "ops/params/reduce.h"
#include "ops/params/shape.h"
#include "ops/params/source.h"

namespace dagrad::onnx {

namespace {

using ::onnx::AttributeProto;
using ::onnx::NodeProto;

class Writer {
 public:
  Writer(const Graph& g, const TensorMap& values) : g_(g), values_(values) {
    model_.set_ir_version(8);
    model_.set_producer_name("dagrad");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(13);
  }

  const Graph& graph() const { return g_; }
  ::onnx::ModelProto& model() { return model_; }
  void need_opset(int v) {
    if (model_.opset_import(0).version() < v) model_.mutable_opset_import(0)->set_version(v);
  }

  std::string name(const Value& v) {
    const Node& n = g_.node(v.node);
    return n.outputs.size() == 1 ? n.name : str_cat(n.name, ":", v.index);
  }
  std::string fresh(const std::string& base) { return str_cat(base, "__", counter_++); }

  NodeProto& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    NodeProto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(out.empty() ? op : out[0]);
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return *n;
  }
  // An initializer holding `t`; returns its name.
  std::string initializer(const std::string& name, const Tensor& t) {
    tensor_to_proto(t, name, *model_.mutable_graph()->add_initializer());
    return name;
  }
  std::string ints(const std::string& base, const std::vector<int64_t>& v) {
    return initializer(fresh(base), Tensor::from_vector<int64_t>(Shape{static_cast<int64_t>(v.size())}, v));
  }
  std::string scalar(const std::string& base, double v, DType dt) {
    return initializer(fresh(base), Tensor::full(Shape{}, v, dt));
  }
  const TensorMap& values() const { return values_; }

 private:
  const Graph& g_;
  const TensorMap& values_;
  ::onnx::ModelProto model_;
  int counter_ = 0;
};

void attr(NodeProto& n, const char* name, int64_t v) {
  AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(AttributeProto::INT);
  a->set_i(v);
}
void attr(NodeProto& n, const char* name, double v) {
  AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}
void attr(NodeProto& n, const char* name, const std::vector<int64_t>& v) {
  AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

using ExportFn = std::function<void(Writer&, const Node&)>;

std::vector<std::string> in_names(Writer& w, const Node& n) {
  std::vector<std::string> s;
  for (const Value& v : n.inputs) s.push_back(w.name(v));
  return s;
}
std::string out(Writer& w, const Node& n) { return w.name(n.output()); }

ExportFn same(const char* op) {
  return [op](Writer& w, const Node& n) { w.node(op, in_names(w, n), {out(w, n)}); };
}

std::vector<int64_t> hw(const Hw& v) { return {v.h, v.w}; }
std::vector<int64_t> pads(const Hw& v) { return {v.h, v.w, v.h, v.w}; }

void conv(Writer& w, const Node& n) {
  const ConvParams& p = n.params<ConvParams>();
  NodeProto& c = w.node("Conv", in_names(w, n), {out(w, n)});
  const Shape ws = n.inputs[1].shape();
  attr(c, "kernel_shape", std::vector<int64_t>{ws[2], ws[3]});
  attr(c, "strides", hw(p.stride));
  attr(c, "pads", pads(p.padding));
  attr(c, "dilations", hw(p.dilation));
}

template <bool kMax>
void pool(Writer& w, const Node& n) {
  const PoolParams& p = n.params<PoolParams>();
  NodeProto& c = w.node(kMax ? "MaxPool" : "AveragePool", in_names(w, n), {out(w, n)});
  attr(c, "kernel_shape", hw(p.kernel));
  attr(c, "strides", hw(p.stride));
  attr(c, "pads", pads(p.padding));
  if (!kMax) attr(c, "count_include_pad", int64_t{1});  // dagrad divides by the window size
}

void matmul(Writer& w, const Node& n) {
  const MatmulParams& p = n.params<MatmulParams>();
  std::vector<std::string> ins = in_names(w, n);
  for (int k = 0; k < 2; ++k) {
    if (!(k == 0 ? p.trans_a : p.trans_b)) continue;
    const size_t rank = n.inputs[k].shape().rank();
    std::vector<int64_t> perm(rank);
    for (size_t d = 0; d < rank; ++d) perm[d] = static_cast<int64_t>(d);
    std::swap(perm[rank - 2], perm[rank - 1]);
    const std::string t = w.fresh(ins[k] + "_T");
    attr(w.node("Transpose", {ins[k]}, {t}), "perm", perm);
    ins[k] = t;
  }
  w.node("MatMul", ins, {out(w, n)});
}

void reshape(Writer& w, const Node& n) {
  const Shape& s = n.outputs[0].shape;
  w.node("Reshape", {w.name(n.inputs[0]), w.ints("shape", {s.begin(), s.end()})}, {out(w, n)});
}

template <bool kLog>
void softmax(Writer& w, const Node& n) {
  attr(w.node(kLog ? "LogSoftmax" : "Softmax", in_names(w, n), {out(w, n)}), "axis", n.params<AxisParams>().axis);
}

void reduce(Writer& w, const Node& n, const char* op) {
  const AxesParams& p = n.params<AxesParams>();
  std::vector<int64_t> axes = p.axes;
  if (axes.empty())
    for (size_t d = 0; d < n.inputs[0].shape().rank(); ++d) axes.push_back(static_cast<int64_t>(d));
  NodeProto* c;
  if (std::string(op) == "ReduceSum") {  // axes an input from opset 13
    c = &w.node(op, {w.name(n.inputs[0]), w.ints("axes", axes)}, {out(w, n)});
  } else {
    c = &w.node(op, {w.name(n.inputs[0])}, {out(w, n)});
    attr(*c, "axes", axes);
  }
  attr(*c, "keepdims", int64_t{p.keepdims ? 1 : 0});
}

void permute(Writer& w, const Node& n) {
  attr(w.node("Transpose", in_names(w, n), {out(w, n)}), "perm", n.params<PermuteParams>().perm);
}

void transpose(Writer& w, const Node& n) {
  const TransposeParams& p = n.params<TransposeParams>();
  const int64_t rank = static_cast<int64_t>(n.inputs[0].shape().rank());
  std::vector<int64_t> perm(rank);
  for (int64_t d = 0; d < rank; ++d) perm[d] = d;
  std::swap(perm[p.dim0 < 0 ? p.dim0 + rank : p.dim0], perm[p.dim1 < 0 ? p.dim1 + rank : p.dim1]);
  attr(w.node("Transpose", in_names(w, n), {out(w, n)}), "perm", perm);
}

void concat(Writer& w, const Node& n) {
  attr(w.node("Concat", in_names(w, n), {out(w, n)}), "axis", n.params<ConcatParams>().axis);
}

void slice(Writer& w, const Node& n) {
  const SliceParams& p = n.params<SliceParams>();
  w.node("Slice", {w.name(n.inputs[0]), w.ints("starts", {p.start}), w.ints("ends", {p.end}), w.ints("axes", {p.axis})},
         {out(w, n)});
}

void broadcast(Writer& w, const Node& n) {
  const Shape& s = n.outputs[0].shape;
  w.node("Expand", {w.name(n.inputs[0]), w.ints("shape", {s.begin(), s.end()})}, {out(w, n)});
}

void leaky_relu(Writer& w, const Node& n) {
  attr(w.node("LeakyRelu", in_names(w, n), {out(w, n)}), "alpha", n.params<SlopeParams>().negative_slope);
}

void pow(Writer& w, const Node& n) {
  const DType dt = n.inputs[0].dtype();
  w.node("Pow", {w.name(n.inputs[0]), w.scalar("exponent", n.params<ExponentParams>().exponent, dt)}, {out(w, n)});
}

// 0.5 x (1 + erf(x / sqrt 2)): ONNX 1.12 has no Gelu.
void gelu(Writer& w, const Node& n) {
  const std::string x = w.name(n.inputs[0]);
  const DType dt = n.inputs[0].dtype();
  const std::string a = w.fresh(x + "_scaled"), e = w.fresh(x + "_erf"), p1 = w.fresh(x + "_1p"), h = w.fresh(x + "_half");
  w.node("Mul", {x, w.scalar("inv_sqrt2", 0.70710678118654752440, dt)}, {a});
  w.node("Erf", {a}, {e});
  w.node("Add", {e, w.scalar("one", 1.0, dt)}, {p1});
  w.node("Mul", {x, w.scalar("half", 0.5, dt)}, {h});
  w.node("Mul", {h, p1}, {out(w, n)});
}

void cast(Writer& w, const Node& n) {
  attr(w.node("Cast", in_names(w, n), {out(w, n)}), "to", int64_t{dtype_to_onnx(n.params<CastParams>().to)});
}

// Evaluation-mode dropout is the identity; training-mode dropout has no deterministic form.
void dropout(Writer& w, const Node& n) {
  const DropoutParams& p = n.params<DropoutParams>();
  if (p.training && p.p > 0)
    throw UnsupportedError(str_cat("node '", n.name, "' is dropout in training mode; export the evaluation graph"));
  w.node("Identity", in_names(w, n), {out(w, n)});
}

void batch_norm(Writer& w, const Node& n) {
  const BatchNormParams& p = n.params<BatchNormParams>();
  if (p.training)
    throw UnsupportedError(str_cat("node '", n.name, "' is batch norm in training mode; export the evaluation graph"));
  NodeProto& c = w.node("BatchNormalization", in_names(w, n), {w.name(n.output(0))});
  attr(c, "epsilon", p.eps);
  attr(c, "momentum", 1.0 - p.momentum);  // ONNX's momentum weighs the running value
}

// LayerNormalization (opset 17) with all three outputs, which are layer_norm's: y and the
// saved mean and 1/std. ONNX needs a Scale: ones when the node has no gamma.
void layer_norm(Writer& w, const Node& n) {
  w.need_opset(17);
  const LayerNormParams& p = n.params<LayerNormParams>();
  std::vector<std::string> ins = in_names(w, n);
  if (ins.size() == 1) {
    const Shape& x = n.inputs[0].shape();
    const int64_t rank = static_cast<int64_t>(x.rank()), first = p.axis < 0 ? p.axis + rank : p.axis;
    const Shape normalised(std::vector<int64_t>(x.begin() + first, x.end()));
    ins.push_back(w.initializer(w.fresh(out(w, n) + "_scale"), Tensor::full(normalised, 1.0, n.inputs[0].dtype())));
  }
  NodeProto& c = w.node("LayerNormalization", ins, {w.name(n.output(0)), w.name(n.output(1)), w.name(n.output(2))});
  attr(c, "axis", p.axis);
  attr(c, "epsilon", p.epsilon);
}

void gather(Writer& w, const Node& n) {
  attr(w.node("Gather", in_names(w, n), {out(w, n)}), "axis", n.params<GatherParams>().axis);
}

// ONNX (to opset 17) has no attention op, so the fused one is written out:
// softmax(q·kᵀ·scale + mask)·v, its inputs first brought to [N,H,L,d] (NLHD: transposed;
// NL3HD: the packed qkv transposed to [3,N,H,L,d] and each part gathered), the output
// back to the node's layout. The row log-sum-exp output is the scores' ReduceLogSumExp.
void attention(Writer& w, const Node& n) {
  const AttentionParams& p = n.params<AttentionParams>();
  const DType dt = n.inputs[0].dtype();
  const std::vector<std::string> ins = in_names(w, n);
  const std::string base = w.name(n.output(0));
  auto transposed = [&](const std::string& x, const std::vector<int64_t>& perm, const char* what) {
    const std::string t = w.fresh(str_cat(base, "_", what));
    attr(w.node("Transpose", {x}, {t}), "perm", perm);
    return t;
  };
  std::string q = ins[0], k, v;
  size_t mask_slot = 3;
  if (p.layout == "NL3HD") {
    const std::string qkv = transposed(ins[0], {2, 0, 3, 1, 4}, "qkv");
    auto part = [&](int64_t i, const char* what) {
      const std::string t = w.fresh(str_cat(base, "_", what));
      attr(w.node("Gather", {qkv, w.scalar("index", static_cast<double>(i), DType::i64)}, {t}), "axis", int64_t{0});
      return t;
    };
    q = part(0, "q"), k = part(1, "k"), v = part(2, "v");
    mask_slot = 1;
  } else if (p.layout == "NLHD") {
    q = transposed(ins[0], {0, 2, 1, 3}, "q"), k = transposed(ins[1], {0, 2, 1, 3}, "k");
    v = transposed(ins[2], {0, 2, 1, 3}, "v");
  } else {
    k = ins[1], v = ins[2];
  }
  const Shape& lse_shape = n.outputs[1].shape;  // [N, H, L]
  const int64_t d = n.inputs[0].shape()[n.inputs[0].shape().rank() - 1], l = lse_shape[2];
  const int64_t s_len = p.layout == "NL3HD" ? l : n.inputs[1].shape()[p.layout == "NHLD" ? 2 : 1];
  const double scale = p.scale != 0 ? p.scale : 1.0 / std::sqrt(static_cast<double>(d));
  std::string scores = w.fresh(base + "_qk");
  w.node("MatMul", {q, transposed(k, {0, 1, 3, 2}, "kT")}, {scores});
  std::string scaled = w.fresh(base + "_scores");
  w.node("Mul", {scores, w.scalar("scale", scale, dt)}, {scaled});
  if (n.inputs.size() > mask_slot) {
    const std::string masked = w.fresh(base + "_masked");
    w.node("Add", {scaled, ins[mask_slot]}, {masked});
    scaled = masked;
  }
  if (p.causal) {  // query i attends keys j <= i: -inf above the diagonal
    constexpr double kInf = std::numeric_limits<double>::infinity();
    std::vector<double> m(static_cast<size_t>(l * s_len), 0.0);
    for (int64_t i = 0; i < l; ++i)
      for (int64_t j = i + 1; j < s_len; ++j) m[static_cast<size_t>(i * s_len + j)] = -kInf;
    const std::string causal = w.fresh(base + "_causal");
    w.node("Add", {scaled, w.initializer(w.fresh(base + "_causal_mask"),
                                         Tensor::from_vector<double>(Shape{l, s_len}, m).to_dtype(dt))},
           {causal});
    scaled = causal;
  }
  const std::string probs = w.fresh(base + "_probs");
  attr(w.node("Softmax", {scaled}, {probs}), "axis", int64_t{-1});
  if (p.layout == "NHLD") {
    w.node("MatMul", {probs, v}, {w.name(n.output(0))});
  } else {
    const std::string o = w.fresh(base + "_nhld");
    w.node("MatMul", {probs, v}, {o});
    attr(w.node("Transpose", {o}, {w.name(n.output(0))}), "perm", std::vector<int64_t>{0, 2, 1, 3});
  }
  NodeProto& lse = w.node("ReduceLogSumExp", {scaled}, {w.name(n.output(1))});
  attr(lse, "axes", std::vector<int64_t>{-1});
  attr(lse, "keepdims", int64_t{0});
}

void constant_of(Writer& w, const Node& n, const Tensor& t) { w.initializer(out(w, n), t); }

const std::map<std::string, ExportFn>& exporters() {
  static const std::map<std::string, ExportFn> table = {
      {"relu", same("Relu")},
      {"sigmoid", same("Sigmoid")},
      {"tanh", same("Tanh")},
      {"exp", same("Exp")},
      {"log", same("Log")},
      {"sqrt", same("Sqrt")},
      {"neg", same("Neg")},
      {"abs", same("Abs")},
      {"sign", same("Sign")},
      {"erf", same("Erf")},
      {"sin", same("Sin")},
      {"cos", same("Cos")},
      {"tan", same("Tan")},
      {"asin", same("Asin")},
      {"acos", same("Acos")},
      {"atan", same("Atan")},
      {"sinh", same("Sinh")},
      {"cosh", same("Cosh")},
      {"asinh", same("Asinh")},
      {"acosh", same("Acosh")},
      {"atanh", same("Atanh")},
      {"floor", same("Floor")},
      {"ceil", same("Ceil")},
      {"round", same("Round")},
      {"hardswish", [](Writer& w, const Node& n) {
         w.need_opset(14);
         same("HardSwish")(w, n);
       }},
      {"add", same("Add")},
      {"sub", same("Sub")},
      {"mul", same("Mul")},
      {"div", same("Div")},
      {"maximum", same("Max")},
      {"minimum", same("Min")},
      {"leaky_relu", leaky_relu},
      {"pow", pow},
      {"gelu", gelu},
      {"matmul", matmul},
      {"conv2d", conv},
      {"max_pool2d", pool<true>},
      {"avg_pool2d", pool<false>},
      {"reshape", reshape},
      {"cast", cast},
      {"softmax", softmax<false>},
      {"log_softmax", softmax<true>},
      {"sum", [](Writer& w, const Node& n) { reduce(w, n, "ReduceSum"); }},
      {"mean", [](Writer& w, const Node& n) { reduce(w, n, "ReduceMean"); }},
      {"max", [](Writer& w, const Node& n) { reduce(w, n, "ReduceMax"); }},
      {"permute", permute},
      {"transpose", transpose},
      {"concat", concat},
      {"slice", slice},
      {"broadcast_to", broadcast},
      {"dropout", dropout},
      {"batch_norm", batch_norm},
      {"layer_norm", layer_norm},
      {"gather", gather},
      {"scaled_dot_product_attention", attention},
  };
  return table;
}

}  // namespace

std::string export_to_bytes(const Graph& g, std::span<const Value> outputs, const TensorMap& values,
                            const ExportOptions& opt) {
  Writer w(g, values);
  auto* graph = w.model().mutable_graph();
  graph->set_name(opt.graph_name);
  std::vector<int> needed = g.needed_by(outputs);
  std::vector<char> keep(g.num_nodes(), 0);
  for (int id : needed) keep[id] = 1;
  for (int id : g.topo_order()) {
    if (!keep[id]) continue;
    const Node& n = g.node(id);
    const OpDef& op = *n.op;
    if (op.flags.bound_input) {
      auto* in = graph->add_input();
      in->set_name(n.name);
      auto* tt = in->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(dtype_to_onnx(n.outputs[0].dtype));
      for (int64_t d : n.outputs[0].shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
      continue;
    }
    if (op.flags.bound_parameter) {
      auto it = values.find(n.name);
      if (it == values.end()) throw ValueError(str_cat("[onnx export] no value for parameter '", n.name, "'"));
      w.initializer(n.name, it->second);
      continue;
    }
    if (op.name == "constant") {
      constant_of(w, n, n.params<ConstantParams>().value);
      continue;
    }
    if (op.name == "full") {
      const FillParams& p = n.params<FillParams>();
      constant_of(w, n, Tensor::full(Shape(p.shape), p.value, p.dtype));
      continue;
    }
    auto it = exporters().find(op.name);
    if (it == exporters().end())
      throw UnsupportedError(str_cat("node '", n.name, "' (", op.name, ") has no ONNX form in dagrad's exporter"));
    it->second(w, n);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Value& v = outputs[i];
    const std::string name = i < opt.output_names.size() ? opt.output_names[i] : str_cat("output", i);
    w.node("Identity", {w.name(v)}, {name});
    auto* o = graph->add_output();
    o->set_name(name);
    auto* tt = o->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(dtype_to_onnx(v.dtype()));
    for (int64_t d : v.shape()) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  return w.model().SerializeAsString();
}

std::string check_with_onnx(const std::string& bytes) {
  ::onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) return "not a serialised ModelProto";
  try {
    ::onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void export_model(const Graph& g, std::span<const Value> outputs, const TensorMap& values,
                  const std::filesystem::path& path, const ExportOptions& opt) {
  const std::string bytes = export_to_bytes(g, outputs, values, opt);
  if (std::string why = check_with_onnx(bytes); !why.empty())
    throw InternalError(str_cat("[onnx export] ONNX's checker refused the exported model: ", why));
  const std::span<const std::byte> data(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
  write_file_atomic(path, std::span<const std::span<const std::byte>>(&data, 1));
}

}  // namespace dagrad::onnx
