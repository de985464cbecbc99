// Sources: graph inputs and parameters (bound by name at run time) and constant fills.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/source.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *input, *parameter, *full, *constant;
}  // namespace op

namespace {

template <class P>
std::vector<TensorType> infer_declared(const InferContext& c) {
  c.expect_inputs(0);
  const P& p = c.params<P>();
  for (int64_t d : p.shape)
    if (d < 0) c.fail(str_cat("shape ", attr_to_string(p.shape), " has a negative dimension"));
  return {TensorType{Shape(p.shape), p.dtype}};
}

Cost no_cost(const Node&) { return Cost{}; }

std::vector<TensorType> infer_constant(const InferContext& c) {
  c.expect_inputs(0);
  const Tensor& t = c.params<ConstantParams>().value;
  if (!t.defined() || !t.device().is_cpu()) c.fail("needs a tensor on the host");
  return {TensorType{t.shape(), t.dtype()}};
}

}  // namespace

void register_source_ops(OpRegistry& r) {
  op::input = &r.add({.name = "input",
                      .kind = OpKind::source,
                      .flags = {.bound_input = true},
                      .params = params_codec<DeclParams>(),
                      .infer = infer_declared<DeclParams>,
                      .cost = no_cost,
                      .doc = "a tensor bound per run (images, labels)"});
  op::parameter = &r.add({.name = "parameter",
                          .kind = OpKind::source,
                          .flags = {.bound_parameter = true},
                          .params = params_codec<ParameterParams>(),
                          .infer = infer_declared<ParameterParams>,
                          .cost = no_cost,
                          .doc = "persistent state bound by name (weights, optimizer state)"});
  op::full = &r.add({.name = "full",
                     .kind = OpKind::source,
                     .params = params_codec<FillParams>(),
                     .infer = infer_declared<FillParams>,
                     .doc = "a constant tensor filled with one value"});
  op::constant = &r.add({.name = "constant",
                         .kind = OpKind::source,
                         .params = supplied_params<ConstantParams>(),
                         .infer = infer_constant,
                         .doc = "a tensor embedded in the graph (imported constants)"});
}

Value full(Graph& g, const Shape& shape, double value, DType dtype, const std::source_location& loc) {
  int id = g.add_node(op_def("full"), {}, encode_params(FillParams{shape.dims(), dtype, value}), {}, loc);
  return Value{&g, id, 0};
}

Value constant(Graph& g, const Tensor& value, const std::source_location& loc) {
  auto params = std::make_shared<const ConstantParams>(ConstantParams{value.device().is_cpu() ? value.clone()
                                                                                              : value.to(Device::cpu())});
  int id = g.add_node(op_def("constant"), {}, {}, std::move(params), {}, loc);
  return Value{&g, id, 0};
}

Value full_like(Value x, double value, const std::source_location& loc) {
  return full(*x.graph, x.shape(), value, x.dtype(), loc);
}
Value zeros_like(Value x, const std::source_location& loc) { return full_like(x, 0.0, loc); }
Value ones_like(Value x, const std::source_location& loc) { return full_like(x, 1.0, loc); }

}  // namespace dagrad
