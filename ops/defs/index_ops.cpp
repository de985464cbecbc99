// Indexing: gather (ONNX Gather; an embedding lookup is gather along axis 0 of the
// table) and its adjoint, the scatter-add gather_backward. Kernels: ops/cpu/gather.cpp,
// ops/cuda/gather.cu; both sum each destination's contributions in index order, so the
// gradient is deterministic.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/index.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *gather, *gather_backward;
}  // namespace op

namespace {

double bytes_of(const TensorType& t) { return static_cast<double>(t.shape.numel() * dtype_size(t.dtype)); }

// The axis of `data` as a dim index, or a ShapeError naming it.
size_t gather_axis(const InferContext& c, const Shape& data, int64_t axis) {
  const int64_t r = static_cast<int64_t>(data.rank());
  if (r == 0) c.fail("data must have at least one dimension, got a scalar");
  if (axis < -r || axis >= r)
    c.fail(str_cat("axis ", axis, " is out of range for data of shape ", data.to_string(), "; it must be in [", -r,
                   ", ", r, ")"));
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

void check_indices(const InferContext& c, size_t slot) {
  if (c.inputs[slot].dtype != DType::i64)
    throw TypeError(str_cat("[", c.op.name, "] indices must be int64, got ", dtype_name(c.inputs[slot].dtype),
                            "; convert them"));
}

// data.shape[:axis] + indices.shape + data.shape[axis+1:]
Shape gathered_shape(const Shape& data, size_t axis, const Shape& indices) {
  std::vector<int64_t> dims(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(axis));
  dims.insert(dims.end(), indices.begin(), indices.end());
  dims.insert(dims.end(), data.begin() + static_cast<std::ptrdiff_t>(axis) + 1, data.end());
  return Shape(std::move(dims));
}

std::vector<TensorType> infer_gather(const InferContext& c) {
  c.expect_inputs(2);
  check_indices(c, 1);
  const Shape& data = c.inputs[0].shape;
  const size_t axis = gather_axis(c, data, c.params<GatherParams>().axis);
  if (data[axis] == 0 && c.inputs[1].shape.numel() > 0)
    c.fail(str_cat("data ", data.to_string(), " has no entries along axis ", axis, " to gather"));
  return {TensorType{gathered_shape(data, axis, c.inputs[1].shape), c.inputs[0].dtype}};
}

// Inputs grad (the shape gather produced), indices; output the data's shape.
std::vector<TensorType> infer_gather_backward(const InferContext& c) {
  c.expect_inputs(2);
  c.expect_floating(0);
  check_indices(c, 1);
  const GatherBackwardParams& p = c.params<GatherBackwardParams>();
  for (int64_t d : p.data_shape)
    if (d < 0) c.fail(str_cat("data_shape ", attr_to_string(p.data_shape), " has a negative dimension"));
  const Shape data(p.data_shape);
  const size_t axis = gather_axis(c, data, p.axis);
  const Shape want = gathered_shape(data, axis, c.inputs[1].shape);
  if (c.inputs[0].shape != want)
    c.fail(str_cat("grad has shape ", c.inputs[0].shape.to_string(), " but gathering ", c.inputs[1].shape.to_string(),
                   " indices from ", data.to_string(), " along axis ", axis, " gives ", want.to_string()));
  return {TensorType{data, c.inputs[0].dtype}};
}

std::vector<Value> gather_vjp(const VjpContext& c) {
  std::vector<Value> g(2);
  if (c.needs_grad[0] && c.grad_outputs[0].valid()) {
    const Shape& data = c.inputs[0].shape();
    g[0] = gather_backward(c.grad_outputs[0], c.inputs[1], std::vector<int64_t>(data.begin(), data.end()),
                           c.node.params<GatherParams>().axis);
  }
  return g;
}

// gather_backward is linear in grad; its adjoint is gather itself.
std::vector<Value> gather_backward_vjp(const VjpContext& c) {
  std::vector<Value> g(2);
  if (c.needs_grad[0] && c.grad_outputs[0].valid())
    g[0] = gather(c.grad_outputs[0], c.inputs[1], c.node.params<GatherBackwardParams>().axis);
  return g;
}

Cost gather_cost(const Node& n) {  // a copy of what is gathered
  const TensorType& out = n.outputs[0];
  return Cost{0, bytes_of(out) + bytes_of(n.inputs[1].type()), bytes_of(out)};
}

Cost gather_backward_cost(const Node& n) {  // a zero fill and one add per gathered element
  const TensorType& g = n.inputs[0].type();
  return Cost{static_cast<double>(g.shape.numel()), bytes_of(g) + bytes_of(n.inputs[1].type()),
              bytes_of(n.outputs[0])};
}

}  // namespace

void register_index_ops(OpRegistry& r) {
  op::gather = &r.add({.name = "gather",
                       .kind = OpKind::shape,
                       .params = params_codec<GatherParams>(),
                       .infer = infer_gather,
                       .vjp = gather_vjp,
                       .cost = gather_cost,
                       .nondiff_inputs = {1},
                       .doc = "data indexed along axis by int64 indices (ONNX Gather; an embedding lookup along "
                              "axis 0)"});
  op::gather_backward = &r.add({.name = "gather_backward",
                                .kind = OpKind::shape,
                                .params = params_codec<GatherBackwardParams>(),
                                .infer = infer_gather_backward,
                                .vjp = gather_backward_vjp,
                                .cost = gather_backward_cost,
                                .nondiff_inputs = {1},
                                .doc = "gradient of gather: grad added into zeros of data_shape at the indices, "
                                       "in index order (deterministic)"});
}

Value gather(Value data, Value indices, int64_t axis, const std::source_location& loc) {
  return apply("gather", {data, indices}, encode_params(GatherParams{axis}), loc);
}

Value gather_backward(Value grad, Value indices, std::vector<int64_t> data_shape, int64_t axis,
                      const std::source_location& loc) {
  return apply("gather_backward", {grad, indices}, encode_params(GatherBackwardParams{axis, std::move(data_shape)}),
               loc);
}

}  // namespace dagrad
