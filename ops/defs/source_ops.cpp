// Sources: graph inputs and parameters (bound by name at run time) and constant fills.
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/registry.h"

namespace dagrad {

namespace {

std::vector<TensorType> infer_declared(const InferContext& c) {
  c.expect_inputs(0);
  return {TensorType{Shape(c.attrs.get_ints("shape")), parse_dtype(c.attrs.get_string("dtype"))}};
}

// input/parameter tensors are bound by the executor, which never calls a kernel for them.
void bound_elsewhere(const KernelContext& ctx) {
  throw InternalError(str_cat("node '", ctx.node.name, "' (", ctx.node.op_name(), ") is bound, not computed"));
}

void full_cpu(const KernelContext& ctx) { ctx.outputs[0].fill(ctx.node.attrs.get_float("value")); }

}  // namespace

void register_source_ops(OpRegistry& r) {
  OpFlags src;
  src.source = true;
  for (const char* name : {"input", "parameter"}) {
    OpDef d;
    d.name = name;
    d.attrs = {{"shape", AttrKind::Ints, true}, {"dtype", AttrKind::String, true}};
    if (d.name == "parameter") d.attrs.push_back({"trainable", AttrKind::Bool});
    d.infer = infer_declared;
    d.kernels[0] = bound_elsewhere;
    d.flags = src;
    d.cost = [](const Node&) { return Cost{}; };
    d.doc = d.name == "input" ? "a tensor bound per run (images, labels)"
                              : "persistent state bound by name (weights, optimizer state)";
    r.add(std::move(d));
  }
  OpDef full;
  full.name = "full";
  full.attrs = {{"shape", AttrKind::Ints, true}, {"dtype", AttrKind::String, true}, {"value", AttrKind::Float, true}};
  full.infer = infer_declared;
  full.kernels[0] = full_cpu;
  full.flags = src;
  full.doc = "a constant tensor filled with one value";
  r.add(std::move(full));
}

Value full(Graph& g, const Shape& shape, double value, DType dtype, const std::source_location& loc) {
  int id = g.add_node(op_def("full"), {},
                      Attrs{{"shape", std::vector<int64_t>(shape.begin(), shape.end())},
                            {"dtype", std::string(dtype_name(dtype))},
                            {"value", value}},
                      {}, loc);
  return Value{&g, id, 0};
}

Value full_like(Value x, double value, const std::source_location& loc) {
  return full(*x.graph, x.shape(), value, x.dtype(), loc);
}
Value zeros_like(Value x, const std::source_location& loc) { return full_like(x, 0.0, loc); }
Value ones_like(Value x, const std::source_location& loc) { return full_like(x, 1.0, loc); }

}  // namespace dagrad
