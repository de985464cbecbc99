// Reductions (sum, mean, max, argmax), the broadcasting pair sum_to / broadcast_to, and
// softmax / log_softmax along one axis.
#include "ops/cpu/reduce.h"
#include "ops/cpu/shape_util.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/registry.h"

namespace dagrad {

namespace {

std::vector<int64_t> node_axes(const Attrs& a) { return a.has("axes") ? a.get_ints("axes") : std::vector<int64_t>{}; }

// The reduced shape with the reduced dims kept as 1 (keepdims) or removed.
Shape reduced_shape(const Shape& x, const std::vector<bool>& mask, bool keepdims) {
  std::vector<int64_t> dims;
  for (size_t d = 0; d < x.rank(); ++d)
    if (!mask[d])
      dims.push_back(x[d]);
    else if (keepdims)
      dims.push_back(1);
  return Shape(std::move(dims));
}

Shape keepdims_shape(const Node& n) {
  const Shape& x = n.inputs[0].shape();
  return reduced_shape(x, reduce_mask(x, node_axes(n.attrs), n.op_name()), true);
}

std::vector<TensorType> infer_reduce(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  const Shape& x = c.inputs[0].shape;
  std::vector<bool> mask = reduce_mask(x, node_axes(c.attrs), c.op.name);
  if (c.op.name == "max")
    for (size_t d = 0; d < x.rank(); ++d)
      if (mask[d] && x[d] == 0)
        c.fail(str_cat("cannot take the max over axis ", d, " of size 0 (shape ", x.to_string(), ")"));
  return {TensorType{reduced_shape(x, mask, c.attrs.get_bool_or("keepdims", false)), c.inputs[0].dtype}};
}

// Cost of a reduction-like op: one flop per input element.
Cost reduce_cost(const Node& n) {
  Cost c;
  c.flops = static_cast<double>(n.inputs[0].shape().numel());
  c.bytes_read = c.flops * static_cast<double>(dtype_size(n.inputs[0].dtype()));
  c.bytes_written = static_cast<double>(n.outputs[0].shape.numel() * dtype_size(n.outputs[0].dtype));
  return c;
}

// sum: dx = broadcast(dy) back over the reduced dims; mean also divides by the count.
std::vector<Value> sum_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const Shape x = c.inputs[0].shape();
  const Shape kept = keepdims_shape(c.node);
  Value g = reshape(c.grad_outputs[0], dims_of(kept));
  if (c.node.op_name() == "mean" && kept.numel() > 0 && x.numel() > 0)
    g = g * (static_cast<double>(kept.numel()) / static_cast<double>(x.numel()));
  return {broadcast_to(g, x)};
}

// max: dy goes to the elements equal to the maximum (inputs are assumed tie-free).
std::vector<Value> max_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const std::vector<int64_t> kept = dims_of(keepdims_shape(c.node));
  Value y = reshape(c.outputs[0], kept);
  return {reshape(c.grad_outputs[0], kept) * greater_equal(c.inputs[0], y)};
}

// Why `small` does not broadcast to `big` (dims aligned right, each equal or 1), or "".
std::string broadcast_problem(const Shape& small, const Shape& big) {
  if (small.rank() > big.rank()) return str_cat(small.to_string(), " has more dims than ", big.to_string());
  const size_t lead = big.rank() - small.rank();
  for (size_t d = 0; d < small.rank(); ++d)
    if (small[d] != 1 && small[d] != big[d + lead])
      return str_cat("dimension ", d + lead, " of ", big.to_string(), " is ", big[d + lead], " but ", small[d], " in ",
                     small.to_string(), " (must be equal or 1)");
  return {};
}

Shape target_shape(const InferContext& c) {
  const std::vector<int64_t>& dims = c.attrs.get_ints("shape");
  for (int64_t d : dims)
    if (d < 0) c.fail(str_cat("target shape ", attr_to_string(dims), " has a negative dimension"));
  return Shape(dims);
}

std::vector<TensorType> infer_sum_to(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  Shape to = target_shape(c);
  if (std::string why = broadcast_problem(to, c.inputs[0].shape); !why.empty())
    c.fail(str_cat("cannot sum shape ", c.inputs[0].shape.to_string(), " to ", to.to_string(), ": ", why));
  return {TensorType{to, c.inputs[0].dtype}};
}

std::vector<TensorType> infer_broadcast_to(const InferContext& c) {
  c.expect_inputs(1);
  Shape to = target_shape(c);
  if (std::string why = broadcast_problem(c.inputs[0].shape, to); !why.empty())
    c.fail(str_cat("cannot broadcast shape ", c.inputs[0].shape.to_string(), " to ", to.to_string(), ": ", why));
  return {TensorType{to, c.inputs[0].dtype}};
}

std::vector<Value> sum_to_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  return {broadcast_to(c.grad_outputs[0], c.inputs[0].shape())};
}

std::vector<Value> broadcast_to_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  return {sum_to(c.grad_outputs[0], c.inputs[0].shape())};
}

std::vector<TensorType> infer_along_axis(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  const Shape& x = c.inputs[0].shape;
  const int axis = normalize_axis(x, c.attrs.get_int_or("axis", -1), c.op.name);
  if (c.op.name != "argmax") return {c.inputs[0]};
  if (x[axis] == 0)
    c.fail(str_cat("cannot take the argmax over axis ", axis, " of size 0 (shape ", x.to_string(), ")"));
  std::vector<int64_t> dims = dims_of(x);
  dims.erase(dims.begin() + axis);
  return {TensorType{Shape(std::move(dims)), DType::i64}};
}

Cost softmax_cost(const Node& n) {
  Cost c = reduce_cost(n);
  c.flops *= 5;  // max, subtract, exp, sum, scale
  c.bytes_written = c.bytes_read;
  return c;
}

// softmax: dx = y ⊙ (dy − Σ_axis dy ⊙ y)
std::vector<Value> softmax_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const int64_t axis = c.node.attrs.get_int_or("axis", -1);
  Value y = c.outputs[0], g = c.grad_outputs[0];
  return {y * (g - sum(g * y, {axis}, true))};
}

// log_softmax: dx = dy − exp(y) ⊙ Σ_axis dy
std::vector<Value> log_softmax_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const int64_t axis = c.node.attrs.get_int_or("axis", -1);
  Value y = c.outputs[0], g = c.grad_outputs[0];
  return {g - exp(y) * sum(g, {axis}, true)};
}

OpDef reduce_def(const std::string& name, Kernel k, VjpFn vjp, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.attrs = {{"axes", AttrKind::Ints}, {"keepdims", AttrKind::Bool}};
  d.infer = infer_reduce;
  d.kernels[0] = k;
  d.vjp = vjp;
  d.cost = reduce_cost;
  d.doc = doc;
  return d;
}

OpDef axis_def(const std::string& name, Kernel k, VjpFn vjp, CostFn cost, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.attrs = {{"axis", AttrKind::Int}};
  d.infer = infer_along_axis;
  d.kernels[0] = k;
  d.vjp = vjp;
  d.cost = cost;
  d.doc = doc;
  return d;
}

Attrs reduce_attrs(std::vector<int64_t> axes, bool keepdims) {
  return Attrs{{"axes", std::move(axes)}, {"keepdims", keepdims}};
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  r.add(reduce_def("sum", sum_cpu, sum_vjp, "sum over axes (all when empty), optionally keeping them as 1"));
  r.add(reduce_def("mean", mean_cpu, sum_vjp, "mean over axes (all when empty), optionally keeping them as 1"));
  r.add(reduce_def("max", max_cpu, max_vjp, "maximum over axes (all when empty), optionally keeping them as 1"));

  OpDef sum_to_def;
  sum_to_def.name = "sum_to";
  sum_to_def.attrs = {{"shape", AttrKind::Ints, true}};
  sum_to_def.infer = infer_sum_to;
  sum_to_def.kernels[0] = sum_to_cpu;
  sum_to_def.vjp = sum_to_vjp;
  sum_to_def.cost = reduce_cost;
  sum_to_def.doc = "sums the dims that broadcasting expanded, giving `shape` (the vjp of broadcasting)";
  r.add(std::move(sum_to_def));

  OpDef bcast;
  bcast.name = "broadcast_to";
  bcast.attrs = {{"shape", AttrKind::Ints, true}};
  bcast.infer = infer_broadcast_to;
  bcast.kernels[0] = broadcast_to_cpu;
  bcast.vjp = broadcast_to_vjp;
  bcast.doc = "repeats size-1 and missing leading dims to give `shape` (NumPy broadcasting)";
  r.add(std::move(bcast));

  r.add(axis_def("softmax", softmax_cpu, softmax_vjp, softmax_cost, "exp(x - max) normalised to sum to 1 along axis"));
  r.add(axis_def("log_softmax", log_softmax_cpu, log_softmax_vjp, softmax_cost,
                 "x - max - log(sum(exp(x - max))) along axis"));
  OpDef am = axis_def("argmax", argmax_cpu, nullptr, reduce_cost, "int64 index of the first maximum along axis");
  am.nondiff_inputs = {0};
  r.add(std::move(am));
}

Value sum(Value x, std::vector<int64_t> axes, bool keepdims, const std::source_location& loc) {
  return apply("sum", {x}, reduce_attrs(std::move(axes), keepdims), loc);
}

Value mean(Value x, std::vector<int64_t> axes, bool keepdims, const std::source_location& loc) {
  return apply("mean", {x}, reduce_attrs(std::move(axes), keepdims), loc);
}

Value max(Value x, std::vector<int64_t> axes, bool keepdims, const std::source_location& loc) {
  return apply("max", {x}, reduce_attrs(std::move(axes), keepdims), loc);
}

Value sum_to(Value x, const Shape& shape, const std::source_location& loc) {
  if (x.valid() && x.shape() == shape) return x;
  return apply("sum_to", {x}, Attrs{{"shape", dims_of(shape)}}, loc);
}

Value broadcast_to(Value x, const Shape& shape, const std::source_location& loc) {
  if (x.valid() && x.shape() == shape) return x;
  return apply("broadcast_to", {x}, Attrs{{"shape", dims_of(shape)}}, loc);
}

Value softmax(Value x, int64_t axis, const std::source_location& loc) {
  return apply("softmax", {x}, Attrs{{"axis", axis}}, loc);
}

Value log_softmax(Value x, int64_t axis, const std::source_location& loc) {
  return apply("log_softmax", {x}, Attrs{{"axis", axis}}, loc);
}

Value argmax(Value x, int64_t axis, const std::source_location& loc) {
  return apply("argmax", {x}, Attrs{{"axis", axis}}, loc);
}

}  // namespace dagrad
