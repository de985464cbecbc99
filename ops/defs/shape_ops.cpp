// Shape ops: reshape (a view), transpose and permute (copies), concat and slice.
#include <algorithm>
#include <numeric>

#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/shape.h"
#include "ops/registry.h"
#include "ops/shape_util.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *reshape, *transpose, *permute, *concat, *slice;
}  // namespace op

namespace {

// Shape ops move bytes and compute nothing: each output byte is read once and written once.
Cost copy_cost(const Node& n) {
  Cost c;
  c.bytes_read = c.bytes_written = static_cast<double>(n.outputs[0].shape.numel() * dtype_size(n.outputs[0].dtype));
  return c;
}

// ---- reshape ----

Shape resolve_reshape(const InferContext& c, const Shape& x) {
  std::vector<int64_t> dims = c.params<ShapeParams>().shape;
  const std::string target = attr_to_string(dims);
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (infer_at >= 0) c.fail(str_cat("shape ", target, " has more than one -1; only one dimension can be inferred"));
      infer_at = static_cast<int>(i);
    } else if (dims[i] < 0) {
      c.fail(str_cat("shape ", target, " has a negative dimension ", dims[i], " (only -1, to infer one, is allowed)"));
    } else {
      known *= dims[i];
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || x.numel() % known != 0)
      c.fail(str_cat("cannot reshape ", x.to_string(), " (", x.numel(), " elements) into ", target,
                     ": the other dimensions hold ", known, " elements, which does not divide ", x.numel()));
    dims[infer_at] = x.numel() / known;
  } else if (known != x.numel()) {
    c.fail(str_cat("cannot reshape ", x.to_string(), " (", x.numel(), " elements) into ", target, " (", known,
                   " elements)"));
  }
  return Shape(std::move(dims));
}

std::vector<TensorType> infer_reshape(const InferContext& c) {
  c.expect_inputs(1);
  return {TensorType{resolve_reshape(c, c.inputs[0].shape), c.inputs[0].dtype}};
}

std::vector<Value> reshape_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  return {reshape(c.grad_outputs[0], dims_of(c.inputs[0].shape()))};
}

// ---- transpose and permute ----

std::vector<TensorType> infer_transpose(const InferContext& c) {
  c.expect_inputs(1);
  const Shape& x = c.inputs[0].shape;
  const TransposeParams& p = c.params<TransposeParams>();
  const int d0 = normalize_axis(x, p.dim0, c.op.name);
  const int d1 = normalize_axis(x, p.dim1, c.op.name);
  std::vector<int64_t> dims = dims_of(x);
  std::swap(dims[d0], dims[d1]);
  return {TensorType{Shape(std::move(dims)), c.inputs[0].dtype}};
}

// Swapping the same two dims again undoes a transpose.
std::vector<Value> transpose_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const TransposeParams& p = c.node.params<TransposeParams>();
  return {transpose(c.grad_outputs[0], p.dim0, p.dim1)};
}

std::vector<int64_t> checked_perm(const InferContext& c, const Shape& x) {
  const std::vector<int64_t>& perm = c.params<PermuteParams>().perm;
  if (perm.size() != x.rank())
    c.fail(str_cat("perm ", attr_to_string(perm), " has ", perm.size(), " entries but the input ", x.to_string(),
                   " has rank ", x.rank()));
  std::vector<int64_t> out;
  std::vector<bool> seen(x.rank(), false);
  for (int64_t p : perm) {
    int d = normalize_axis(x, p, c.op.name);
    if (seen[d]) c.fail(str_cat("perm ", attr_to_string(perm), " lists axis ", d, " twice; it must be a permutation"));
    seen[d] = true;
    out.push_back(d);
  }
  return out;
}

std::vector<TensorType> infer_permute(const InferContext& c) {
  c.expect_inputs(1);
  const Shape& x = c.inputs[0].shape;
  std::vector<int64_t> dims;
  for (int64_t d : checked_perm(c, x)) dims.push_back(x[d]);
  return {TensorType{Shape(std::move(dims)), c.inputs[0].dtype}};
}

// y dim i is x dim perm[i], so dx = permute(dy, inv) with inv[perm[i]] = i.
std::vector<Value> permute_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const Shape& x = c.inputs[0].shape();
  const std::vector<int64_t>& perm = c.node.params<PermuteParams>().perm;
  std::vector<int64_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[normalize_axis(x, perm[i], "permute")] = static_cast<int64_t>(i);
  return {permute(c.grad_outputs[0], inv)};
}

// ---- concat ----

std::vector<TensorType> infer_concat(const InferContext& c) {
  if (c.inputs.empty()) c.fail("needs at least one input");
  c.expect_same_dtype();
  const Shape& first = c.inputs[0].shape;
  const int axis = normalize_axis(first, c.params<ConcatParams>().axis, c.op.name);
  std::vector<int64_t> dims = dims_of(first);
  for (size_t i = 1; i < c.inputs.size(); ++i) {
    const Shape& s = c.inputs[i].shape;
    if (s.rank() != first.rank())
      c.fail(str_cat("input ", i, " has rank ", s.rank(), " (shape ", s.to_string(), ") but input 0 has rank ",
                     first.rank(), " (shape ", first.to_string(), ")"));
    for (size_t d = 0; d < s.rank(); ++d)
      if (static_cast<int>(d) != axis && s[d] != first[d])
        c.fail(str_cat("input ", i, " has shape ", s.to_string(), " but input 0 has ", first.to_string(),
                       ": dimension ", d, " differs (all dimensions but the concat axis ", axis, " must match)"));
    dims[axis] += s[axis];
  }
  return {TensorType{Shape(std::move(dims)), c.inputs[0].dtype}};
}

// Each input's gradient is its slice of dy.
std::vector<Value> concat_vjp(const VjpContext& c) {
  const Value g = c.grad_outputs[0];
  std::vector<Value> grads(c.inputs.size());
  if (!g.valid()) return grads;
  const int axis = normalize_axis(g.shape(), c.node.params<ConcatParams>().axis, "concat");
  int64_t offset = 0;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const int64_t len = c.inputs[i].shape()[axis];
    if (c.needs_grad[i]) grads[i] = slice(g, axis, offset, offset + len);
    offset += len;
  }
  return grads;
}

// ---- slice ----

struct SliceRange {
  int axis;
  int64_t start, end;
};

SliceRange slice_range(const Shape& x, const SliceParams& p, const std::string& who) {
  SliceRange r{normalize_axis(x, p.axis, who), p.start, p.end};
  const int64_t n = x[r.axis];
  if (r.start < 0) r.start += n;
  if (r.end < 0) r.end += n;
  return r;
}

std::vector<TensorType> infer_slice(const InferContext& c) {
  c.expect_inputs(1);
  const Shape& x = c.inputs[0].shape;
  const SliceParams& p = c.params<SliceParams>();
  const SliceRange r = slice_range(x, p, c.op.name);
  const int64_t n = x[r.axis];
  if (r.start < 0 || r.start > r.end || r.end > n)
    c.fail(str_cat("range [", p.start, ",", p.end, ") is out of bounds for axis ",
                   r.axis, " of size ", n, " (shape ", x.to_string(), "); need 0 <= start <= end <= ", n,
                   " (negative values count from the end)"));
  std::vector<int64_t> dims = dims_of(x);
  dims[r.axis] = r.end - r.start;
  return {TensorType{Shape(std::move(dims)), c.inputs[0].dtype}};
}

// dx is dy placed between zeros: concat(zeros[.., start, ..], dy, zeros[.., n - end, ..]).
std::vector<Value> slice_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  const Value g = c.grad_outputs[0];
  const Shape x = c.inputs[0].shape();
  const SliceRange r = slice_range(x, c.node.params<SliceParams>(), "slice");
  auto zeros = [&](int64_t len) {
    std::vector<int64_t> dims = dims_of(x);
    dims[r.axis] = len;
    return full(*g.graph, Shape(std::move(dims)), 0.0, g.dtype());
  };
  std::vector<Value> parts;
  if (r.start > 0) parts.push_back(zeros(r.start));
  parts.push_back(g);
  if (r.end < x[r.axis]) parts.push_back(zeros(x[r.axis] - r.end));
  return {parts.size() == 1 ? g : concat(parts, r.axis)};
}

OpDef shape_op(OpDef d) {
  d.kind = OpKind::shape;
  d.cost = copy_cost;
  return d;
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  op::reshape = &r.add({.name = "reshape",
                        .kind = OpKind::shape,
                        .flags = {.view = true},
                        .params = params_codec<ShapeParams>(),
                        .infer = infer_reshape,
                        .vjp = reshape_vjp,
                        .cost = [](const Node&) { return Cost{}; },
                        .moves_input0 = [](const Node&) { return true; },
                        .doc = "same elements in a new shape (one dim may be -1); a view, no copy"});
  op::transpose = &r.add(shape_op({.name = "transpose",
                                   .params = params_codec<TransposeParams>(),
                                   .infer = infer_transpose,
                                   .vjp = transpose_vjp,
                                   .doc = "swaps two dims (a copy)"}));
  op::permute = &r.add(shape_op({.name = "permute",
                                 .params = params_codec<PermuteParams>(),
                                 .infer = infer_permute,
                                 .vjp = permute_vjp,
                                 .doc = "reorders dims: output dim i is input dim perm[i] (a copy)"}));
  op::concat = &r.add(shape_op({.name = "concat",
                                .params = params_codec<ConcatParams>(),
                                .infer = infer_concat,
                                .vjp = concat_vjp,
                                .doc = "joins its inputs along axis; the other dims must match"}));
  op::slice = &r.add(shape_op({.name = "slice",
                               .params = params_codec<SliceParams>(),
                               .infer = infer_slice,
                               .vjp = slice_vjp,
                               .doc = "elements [start, end) along axis (negative counts from the end)"}));
}

Value reshape(Value x, std::vector<int64_t> shape, const std::source_location& loc) {
  if (x.valid() && dims_of(x.shape()) == shape) return x;
  return apply("reshape", {x}, encode_params(ShapeParams{std::move(shape)}), loc);
}

// Keeps dims [0, start_dim) and merges the rest into one.
Value flatten(Value x, int64_t start_dim, const std::source_location& loc) {
  if (!x.valid()) throw GraphError("[flatten] input is an empty Value");
  const Shape& s = x.shape();
  if (s.rank() == 0) return reshape(x, {1}, loc);
  int start;
  try {
    start = normalize_axis(s, start_dim, "flatten");
  } catch (const ShapeError& e) {
    throw ShapeError(str_cat(e.what(), " (at ", SourceLoc::from(loc).to_string(), ")"));
  }
  std::vector<int64_t> dims(s.begin(), s.begin() + start);
  int64_t rest = 1;
  for (size_t d = start; d < s.rank(); ++d) rest *= s[d];
  dims.push_back(rest);
  return reshape(x, std::move(dims), loc);
}

Value transpose(Value x, int64_t dim0, int64_t dim1, const std::source_location& loc) {
  return apply("transpose", {x}, encode_params(TransposeParams{dim0, dim1}), loc);
}

Value permute(Value x, std::vector<int64_t> perm, const std::source_location& loc) {
  return apply("permute", {x}, encode_params(PermuteParams{std::move(perm)}), loc);
}

Value concat(std::vector<Value> xs, int64_t axis, const std::source_location& loc) {
  return apply("concat", std::move(xs), encode_params(ConcatParams{axis}), loc);
}

Value slice(Value x, int64_t axis, int64_t start, int64_t end, const std::source_location& loc) {
  return apply("slice", {x}, encode_params(SliceParams{axis, start, end}), loc);
}

}  // namespace dagrad
