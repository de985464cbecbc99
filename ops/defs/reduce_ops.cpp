// Reductions (sum, mean, max, prod, argmax), the broadcasting pair sum_to / broadcast_to, and
// softmax / log_softmax along one axis.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/reduce.h"
#include "ops/registry.h"
#include "ops/shape_util.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *sum, *mean, *max, *prod, *sum_to, *broadcast_to, *softmax, *log_softmax, *argmax;
}  // namespace op

namespace {

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
  return reduced_shape(x, reduce_mask(x, n.params<AxesParams>().axes, n.op_name()), true);
}

std::vector<TensorType> infer_reduce(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  const Shape& x = c.inputs[0].shape;
  const AxesParams& p = c.params<AxesParams>();
  std::vector<bool> mask = reduce_mask(x, p.axes, c.op.name);
  if (c.op.name == "max")
    for (size_t d = 0; d < x.rank(); ++d)
      if (mask[d] && x[d] == 0)
        c.fail(str_cat("cannot take the max over axis ", d, " of size 0 (shape ", x.to_string(), ")"));
  return {TensorType{reduced_shape(x, mask, p.keepdims), c.inputs[0].dtype}};
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

// prod: dx = dy · y / x (inputs are assumed free of zeros).
std::vector<Value> prod_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const std::vector<int64_t> kept = dims_of(keepdims_shape(c.node));
  return {reshape(c.grad_outputs[0], kept) * reshape(c.outputs[0], kept) / c.inputs[0]};
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
  const std::vector<int64_t>& dims = c.params<ShapeParams>().shape;
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
  const int axis = normalize_axis(x, c.params<AxisParams>().axis, c.op.name);
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
  const int64_t axis = c.node.params<AxisParams>().axis;
  Value y = c.outputs[0], g = c.grad_outputs[0];
  return {y * (g - sum(g * y, {axis}, true))};
}

// log_softmax: dx = dy − exp(y) ⊙ Σ_axis dy
std::vector<Value> log_softmax_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const int64_t axis = c.node.params<AxisParams>().axis;
  Value y = c.outputs[0], g = c.grad_outputs[0];
  return {g - exp(y) * sum(g, {axis}, true)};
}

OpDef reduction(OpDef d) {
  d.kind = OpKind::reduction;
  d.params = params_codec<AxesParams>();
  d.infer = infer_reduce;
  d.cost = reduce_cost;
  return d;
}

OpDef along_axis(OpDef d) {
  d.kind = OpKind::reduction;
  d.params = params_codec<AxisParams>();
  d.infer = infer_along_axis;
  return d;
}

Attrs reduce_attrs(std::vector<int64_t> axes, bool keepdims) { return encode_params(AxesParams{std::move(axes), keepdims}); }

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  op::sum = &r.add(reduction(
      {.name = "sum", .vjp = sum_vjp, .doc = "sum over axes (all when empty), optionally keeping them as 1"}));
  op::mean = &r.add(reduction(
      {.name = "mean", .vjp = sum_vjp, .doc = "mean over axes (all when empty), optionally keeping them as 1"}));
  op::max = &r.add(reduction(
      {.name = "max", .vjp = max_vjp, .doc = "maximum over axes (all when empty), optionally keeping them as 1"}));
  op::prod = &r.add(reduction(
      {.name = "prod", .vjp = prod_vjp, .doc = "product over axes (all when empty), optionally keeping them as 1"}));
  op::sum_to = &r.add({.name = "sum_to",
                       .kind = OpKind::reduction,
                       .params = params_codec<ShapeParams>(),
                       .infer = infer_sum_to,
                       .vjp = sum_to_vjp,
                       .cost = reduce_cost,
                       .doc = "sums the dims that broadcasting expanded, giving `shape` (the vjp of broadcasting)"});
  op::broadcast_to = &r.add({.name = "broadcast_to",
                             .kind = OpKind::shape,
                             .params = params_codec<ShapeParams>(),
                             .infer = infer_broadcast_to,
                             .vjp = broadcast_to_vjp,
                             .doc = "repeats size-1 and missing leading dims to give `shape` (NumPy broadcasting)"});
  op::softmax = &r.add(along_axis({.name = "softmax",
                                   .vjp = softmax_vjp,
                                   .cost = softmax_cost,
                                   .doc = "exp(x - max) normalised to sum to 1 along axis"}));
  op::log_softmax = &r.add(along_axis({.name = "log_softmax",
                                       .vjp = log_softmax_vjp,
                                       .cost = softmax_cost,
                                       .doc = "x - max - log(sum(exp(x - max))) along axis"}));
  op::argmax = &r.add(along_axis({.name = "argmax",
                                  .cost = reduce_cost,
                                  .nondiff_inputs = {0},
                                  .doc = "int64 index of the first maximum along axis"}));
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

Value prod(Value x, std::vector<int64_t> axes, bool keepdims, const std::source_location& loc) {
  return apply("prod", {x}, reduce_attrs(std::move(axes), keepdims), loc);
}

Value sum_to(Value x, const Shape& shape, const std::source_location& loc) {
  if (x.valid() && x.shape() == shape) return x;
  return apply("sum_to", {x}, encode_params(ShapeParams{dims_of(shape)}), loc);
}

Value broadcast_to(Value x, const Shape& shape, const std::source_location& loc) {
  if (x.valid() && x.shape() == shape) return x;
  return apply("broadcast_to", {x}, encode_params(ShapeParams{dims_of(shape)}), loc);
}

Value softmax(Value x, int64_t axis, const std::source_location& loc) {
  return apply("softmax", {x}, encode_params(AxisParams{axis}), loc);
}

Value log_softmax(Value x, int64_t axis, const std::source_location& loc) {
  return apply("log_softmax", {x}, encode_params(AxisParams{axis}), loc);
}

Value argmax(Value x, int64_t axis, const std::source_location& loc) {
  return apply("argmax", {x}, encode_params(AxisParams{axis}), loc);
}

}  // namespace dagrad
