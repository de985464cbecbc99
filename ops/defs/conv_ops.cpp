// Convolution and pooling (NCHW): conv2d with its input- and weight-gradient ops, max
// and average pooling with theirs. Backward ops are ops of their own (with kernels and
// vjps), so gradients of gradients go through the same graph machinery.
#include "ops/cpu/conv.h"
#include "ops/cpu/conv_geom.h"
#include "ops/cpu/pool.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/registry.h"

namespace dagrad {

namespace {

// ---- attribute and shape checks shared by the ops below ----

std::string ints_str(const std::vector<int64_t>& v) { return attr_to_string(v); }  // "[1,2]", negatives too

// "3" when both sides agree, "3x1" (height x width) otherwise.
std::string hw_str(int64_t h, int64_t w) { return h == w ? str_cat(h) : str_cat(h, "x", w); }

// A (height, width) attribute, when present: two values, each >= min_value.
void check_hw(const InferContext& c, const char* name, int64_t min_value, const char* requirement) {
  if (!c.attrs.has(name)) return;
  const std::vector<int64_t>& v = c.attrs.get_ints(name);
  if (v.size() != 2) c.fail(str_cat(name, " must have 2 values (height, width), got ", ints_str(v)));
  if (v[0] < min_value || v[1] < min_value) c.fail(str_cat(name, " must be ", requirement, ", got ", ints_str(v)));
}

void check_4d(const InferContext& c, const Shape& s, const char* name, const char* layout) {
  if (s.rank() != 4) c.fail(str_cat(name, " must be 4-D ", layout, ", got ", s.to_string()));
  for (size_t i = 1; i < 4; ++i)
    if (s[i] <= 0) c.fail(str_cat(name, " has an empty dimension: ", s.to_string()));
}

void check_floating_same(const InferContext& c) {
  for (size_t i = 0; i < c.inputs.size(); ++i) c.expect_floating(i);
  c.expect_same_dtype();
}

// Validates conv attributes and the (x, weight) pair; names appear in the messages.
Conv2dGeom check_conv(const InferContext& c, const Shape& x, const char* x_name, const Shape& w, const char* w_name) {
  check_hw(c, "stride", 1, "positive");
  check_hw(c, "padding", 0, "non-negative");
  check_hw(c, "dilation", 1, "positive");
  check_4d(c, x, x_name, "[N,C,H,W]");
  check_4d(c, w, w_name, "[O,C,KH,KW]");
  if (w[0] <= 0) c.fail(str_cat(w_name, " has an empty dimension: ", w.to_string()));
  if (x[1] != w[1])
    c.fail(str_cat(x_name, " has ", x[1], " channels but ", w_name, " expects ", w[1], " (", x_name, " ", x.to_string(),
                   ", ", w_name, " ", w.to_string(), ")"));
  Conv2dGeom g = conv2d_geom(x, w, c.attrs);
  if (g.oh <= 0 || g.ow <= 0)
    c.fail(str_cat("output would be empty: ", x_name, " ", x[2], "x", x[3], " with kernel ", w[2], "x", w[3],
                   ", padding ", hw_str(g.ph, g.pw), ", dilation ", hw_str(g.dh, g.dw)));
  return g;
}

Shape conv_out_shape(const Conv2dGeom& g) { return Shape{g.n, g.o, g.oh, g.ow}; }

// grad_y must have the shape that the forward op produced.
void check_grad_y(const InferContext& c, const Shape& want, const std::string& forward) {
  const Shape& got = c.inputs[0].shape;
  if (got != want) c.fail(str_cat("grad_y is ", got.to_string(), " but ", forward, " gives ", want.to_string()));
}

Shape shape_attr(const InferContext& c, const char* name) {
  const std::vector<int64_t>& v = c.attrs.get_ints(name);
  for (int64_t d : v)
    if (d < 0) c.fail(str_cat(name, " has a negative dimension: ", ints_str(v)));
  return Shape(v);
}

Pool2dGeom check_pool(const InferContext& c, const Shape& x, const char* x_name) {
  check_hw(c, "kernel", 1, "positive");
  check_hw(c, "stride", 1, "positive");
  check_hw(c, "padding", 0, "non-negative");
  check_4d(c, x, x_name, "[N,C,H,W]");
  Pool2dGeom g = pool2d_geom(x, c.attrs);
  // A window wholly inside the padding would have no element to pool.
  if (2 * g.ph > g.kh || 2 * g.pw > g.kw)
    c.fail(str_cat("padding ", ints_str({g.ph, g.pw}), " must be at most half the kernel ", ints_str({g.kh, g.kw})));
  if (g.oh <= 0 || g.ow <= 0)
    c.fail(str_cat("output would be empty: ", x_name, " ", x[2], "x", x[3], " with kernel ", g.kh, "x", g.kw,
                   ", padding ", hw_str(g.ph, g.pw)));
  return g;
}

Shape pool_out_shape(const Pool2dGeom& g) { return Shape{g.n, g.c, g.oh, g.ow}; }

// ---- shape inference ----

std::vector<TensorType> infer_conv2d(const InferContext& c) {
  if (c.inputs.size() != 2 && c.inputs.size() != 3)
    c.fail(str_cat("expects 2 or 3 inputs (x, weight[, bias]), got ", c.inputs.size()));
  check_floating_same(c);
  Conv2dGeom g = check_conv(c, c.inputs[0].shape, "input", c.inputs[1].shape, "weight");
  if (c.inputs.size() == 3 && c.inputs[2].shape != Shape{g.o})
    c.fail(str_cat("bias must be [", g.o, "] (one value per output channel), got ", c.inputs[2].shape.to_string()));
  return {TensorType{conv_out_shape(g), c.inputs[0].dtype}};
}

std::vector<TensorType> infer_conv2d_backward_input(const InferContext& c) {
  c.expect_inputs(2);
  check_floating_same(c);
  Shape x = shape_attr(c, "x_shape");
  const Shape& w = c.inputs[1].shape;
  Conv2dGeom g = check_conv(c, x, "x_shape", w, "weight");
  check_grad_y(c, conv_out_shape(g), str_cat("conv2d of x_shape ", x.to_string(), " with weight ", w.to_string()));
  return {TensorType{x, c.inputs[0].dtype}};
}

std::vector<TensorType> infer_conv2d_backward_weight(const InferContext& c) {
  c.expect_inputs(2);
  check_floating_same(c);
  const Shape& x = c.inputs[1].shape;
  Shape w = shape_attr(c, "w_shape");
  Conv2dGeom g = check_conv(c, x, "x", w, "w_shape");
  check_grad_y(c, conv_out_shape(g), str_cat("conv2d of x ", x.to_string(), " with w_shape ", w.to_string()));
  return {TensorType{w, c.inputs[0].dtype}};
}

std::vector<TensorType> infer_pool(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  return {TensorType{pool_out_shape(check_pool(c, c.inputs[0].shape, "input")), c.inputs[0].dtype}};
}

// (grad_y, x) -> shape of x.
std::vector<TensorType> infer_max_pool2d_backward(const InferContext& c) {
  c.expect_inputs(2);
  check_floating_same(c);
  const Shape& x = c.inputs[1].shape;
  check_grad_y(c, pool_out_shape(check_pool(c, x, "x")), str_cat("pooling x ", x.to_string()));
  return {c.inputs[1]};
}

// (source, x) -> pooled shape.
std::vector<TensorType> infer_max_pool2d_gather(const InferContext& c) {
  c.expect_inputs(2);
  check_floating_same(c);
  const Shape& x = c.inputs[1].shape;
  Pool2dGeom g = check_pool(c, x, "x");
  if (c.inputs[0].shape != x)
    c.fail(str_cat("source is ", c.inputs[0].shape.to_string(), " but x is ", x.to_string(), "; they must match"));
  return {TensorType{pool_out_shape(g), c.inputs[0].dtype}};
}

std::vector<TensorType> infer_avg_pool2d_backward(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  Shape x = shape_attr(c, "x_shape");
  check_grad_y(c, pool_out_shape(check_pool(c, x, "x_shape")), str_cat("pooling x_shape ", x.to_string()));
  return {TensorType{x, c.inputs[0].dtype}};
}

// ---- costs ----

Cost io_bytes(const Node& n) {
  Cost c;
  for (const Value& v : n.inputs) c.bytes_read += static_cast<double>(v.shape().numel() * dtype_size(v.dtype()));
  for (const TensorType& t : n.outputs) c.bytes_written += static_cast<double>(t.shape.numel() * dtype_size(t.dtype));
  return c;
}

double conv_flops(const Conv2dGeom& g) { return 2.0 * g.n * g.o * g.out_pixels() * g.patch(); }

Cost conv2d_cost(const Node& n) {
  Cost c = io_bytes(n);
  Conv2dGeom g = conv2d_geom(n.inputs[0].shape(), n.inputs[1].shape(), n.attrs);
  c.flops = conv_flops(g) + (n.inputs.size() > 2 ? static_cast<double>(n.outputs[0].shape.numel()) : 0.0);
  return c;
}

Cost conv2d_backward_input_cost(const Node& n) {
  Cost c = io_bytes(n);
  c.flops = conv_flops(conv2d_geom(n.outputs[0].shape, n.inputs[1].shape(), n.attrs));
  return c;
}

Cost conv2d_backward_weight_cost(const Node& n) {
  Cost c = io_bytes(n);
  c.flops = conv_flops(conv2d_geom(n.inputs[1].shape(), n.outputs[0].shape, n.attrs));
  return c;
}

// One operation per window element of every pooled value (grad_y for the backward ops).
Cost pool_cost(const Node& n) {
  Cost c = io_bytes(n);
  auto k = hw_attr(n.attrs, "kernel", 1);
  const Shape& pooled = n.op_name().ends_with("_backward") ? n.inputs[0].shape() : n.outputs[0].shape;
  c.flops = static_cast<double>(pooled.numel() * k[0] * k[1]);
  return c;
}

// ---- vjps ----
// y = conv(x, w) is linear in each argument: dx = conv_transpose(dy, w) (backward_input)
// and dw = correlate(dy, x) (backward_weight). Each backward op is itself linear in both
// inputs, and <gg, backward_input(dy, w)> = <conv(gg, w), dy>, which gives the rules below.

Conv2dOptions conv_options(const Attrs& a) {
  auto s = hw_attr(a, "stride", 1), p = hw_attr(a, "padding", 0), d = hw_attr(a, "dilation", 1);
  return Conv2dOptions{Hw(s[0], s[1]), Hw(p[0], p[1]), Hw(d[0], d[1])};
}

Pool2dOptions pool_options(const Attrs& a) {
  auto k = hw_attr(a, "kernel", 1), p = hw_attr(a, "padding", 0);
  auto s = a.has("stride") ? hw_attr(a, "stride", 1) : k;
  return Pool2dOptions{Hw(k[0], k[1]), Hw(s[0], s[1]), Hw(p[0], p[1])};
}

std::vector<Value> conv2d_vjp(const VjpContext& c) {
  Conv2dOptions opt = conv_options(c.node.attrs);
  Value x = c.inputs[0], w = c.inputs[1], gy = c.grad_outputs[0];
  std::vector<Value> grads(c.inputs.size());
  if (c.needs_grad[0]) grads[0] = conv2d_backward_input(gy, w, x.shape(), opt);
  if (c.needs_grad[1]) grads[1] = conv2d_backward_weight(gy, x, w.shape(), opt);
  if (c.inputs.size() > 2 && c.needs_grad[2]) grads[2] = sum(gy, {0, 2, 3});  // db[O]
  return grads;
}

// dx = backward_input(dy, w); gg has x's shape.
std::vector<Value> conv2d_backward_input_vjp(const VjpContext& c) {
  Conv2dOptions opt = conv_options(c.node.attrs);
  Value dy = c.inputs[0], w = c.inputs[1], gg = c.grad_outputs[0];
  std::vector<Value> grads(2);
  if (c.needs_grad[0]) grads[0] = conv2d(gg, w, {}, opt);                          // [N,O,OH,OW]
  if (c.needs_grad[1]) grads[1] = conv2d_backward_weight(dy, gg, w.shape(), opt);  // [O,C,KH,KW]
  return grads;
}

// dw = backward_weight(dy, x); gg has w's shape.
std::vector<Value> conv2d_backward_weight_vjp(const VjpContext& c) {
  Conv2dOptions opt = conv_options(c.node.attrs);
  Value dy = c.inputs[0], x = c.inputs[1], gg = c.grad_outputs[0];
  std::vector<Value> grads(2);
  if (c.needs_grad[0]) grads[0] = conv2d(x, gg, {}, opt);                         // [N,O,OH,OW]
  if (c.needs_grad[1]) grads[1] = conv2d_backward_input(dy, gg, x.shape(), opt);  // [N,C,H,W]
  return grads;
}

std::vector<Value> max_pool2d_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}};
  return {max_pool2d_backward(c.grad_outputs[0], c.inputs[0], pool_options(c.node.attrs))};
}

// Scattering to the argmax and gathering from it are adjoint. The argmax is piecewise
// constant in x, so x has no gradient (nondiff_inputs).
std::vector<Value> max_pool2d_backward_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}, Value{}};
  return {max_pool2d_gather(c.grad_outputs[0], c.inputs[1], pool_options(c.node.attrs)), Value{}};
}

std::vector<Value> max_pool2d_gather_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}, Value{}};
  return {max_pool2d_backward(c.grad_outputs[0], c.inputs[1], pool_options(c.node.attrs)), Value{}};
}

std::vector<Value> avg_pool2d_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}};
  return {avg_pool2d_backward(c.grad_outputs[0], c.inputs[0].shape(), pool_options(c.node.attrs))};
}

// avg_pool2d_backward is avg_pool2d's adjoint, so its own vjp is avg_pool2d.
std::vector<Value> avg_pool2d_backward_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}};
  return {avg_pool2d(c.grad_outputs[0], pool_options(c.node.attrs))};
}

// ---- registration ----

std::vector<AttrSpec> conv_attrs() {
  return {{"stride", AttrKind::Ints}, {"padding", AttrKind::Ints}, {"dilation", AttrKind::Ints}};
}

std::vector<AttrSpec> pool_attrs() {
  return {{"kernel", AttrKind::Ints, true}, {"stride", AttrKind::Ints}, {"padding", AttrKind::Ints}};
}

OpDef make_op(std::string name, std::vector<AttrSpec> attrs, InferFn infer, Kernel cpu, VjpFn vjp, CostFn cost,
              std::string doc) {
  OpDef d;
  d.name = std::move(name);
  d.attrs = std::move(attrs);
  d.infer = infer;
  d.kernels[0] = cpu;
  d.vjp = vjp;
  d.cost = cost;
  d.doc = std::move(doc);
  return d;
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add(make_op("conv2d", conv_attrs(), infer_conv2d, conv2d_cpu, conv2d_vjp, conv2d_cost,
                "2-D convolution: x [N,C,H,W], weight [O,C,KH,KW], optional bias [O]"));

  auto bwd_input_attrs = conv_attrs();
  bwd_input_attrs.push_back({"x_shape", AttrKind::Ints, true});
  r.add(make_op("conv2d_backward_input", bwd_input_attrs, infer_conv2d_backward_input, conv2d_backward_input_cpu,
                conv2d_backward_input_vjp, conv2d_backward_input_cost,
                "gradient of conv2d with respect to x: (grad_y, weight) -> [N,C,H,W]"));

  auto bwd_weight_attrs = conv_attrs();
  bwd_weight_attrs.push_back({"w_shape", AttrKind::Ints, true});
  r.add(make_op("conv2d_backward_weight", bwd_weight_attrs, infer_conv2d_backward_weight, conv2d_backward_weight_cpu,
                conv2d_backward_weight_vjp, conv2d_backward_weight_cost,
                "gradient of conv2d with respect to the weight: (grad_y, x) -> [O,C,KH,KW]"));

  r.add(make_op("max_pool2d", pool_attrs(), infer_pool, max_pool2d_cpu, max_pool2d_vjp, pool_cost,
                "2-D max pooling over kernel windows (padding never wins)"));

  OpDef max_bwd = make_op("max_pool2d_backward", pool_attrs(), infer_max_pool2d_backward, max_pool2d_backward_cpu,
                          max_pool2d_backward_vjp, pool_cost,
                          "gradient of max_pool2d: (grad_y, x) -> grad_y routed to each window's first max");
  max_bwd.nondiff_inputs = {1};
  r.add(std::move(max_bwd));

  OpDef gather =
      make_op("max_pool2d_gather", pool_attrs(), infer_max_pool2d_gather, max_pool2d_gather_cpu, max_pool2d_gather_vjp,
              pool_cost, "(source, x) -> source at each max_pool2d window's argmax of x");
  gather.nondiff_inputs = {1};
  r.add(std::move(gather));

  r.add(make_op("avg_pool2d", pool_attrs(), infer_pool, avg_pool2d_cpu, avg_pool2d_vjp, pool_cost,
                "2-D average pooling; padding counts as zeros (divides by kh*kw)"));

  auto avg_bwd_attrs = pool_attrs();
  avg_bwd_attrs.push_back({"x_shape", AttrKind::Ints, true});
  r.add(make_op("avg_pool2d_backward", avg_bwd_attrs, infer_avg_pool2d_backward, avg_pool2d_backward_cpu,
                avg_pool2d_backward_vjp, pool_cost, "gradient of avg_pool2d: (grad_y) -> [N,C,H,W]"));
}

// ---- builders ----

namespace {

std::vector<int64_t> hw_ints(const Hw& v) { return {v.h, v.w}; }

Attrs conv_attr_values(const Conv2dOptions& o) {
  return Attrs{{"stride", hw_ints(o.stride)}, {"padding", hw_ints(o.padding)}, {"dilation", hw_ints(o.dilation)}};
}

// Pool2dOptions' stride 0 means "same as the kernel".
Attrs pool_attr_values(const Pool2dOptions& o) {
  Hw stride(o.stride.h == 0 ? o.kernel.h : o.stride.h, o.stride.w == 0 ? o.kernel.w : o.stride.w);
  return Attrs{{"kernel", hw_ints(o.kernel)}, {"stride", hw_ints(stride)}, {"padding", hw_ints(o.padding)}};
}

std::vector<int64_t> dims(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

}  // namespace

Value conv2d(Value x, Value weight, Value bias, Conv2dOptions opt, const std::source_location& loc) {
  std::vector<Value> inputs{x, weight};
  if (bias.valid()) inputs.push_back(bias);
  return apply("conv2d", std::move(inputs), conv_attr_values(opt), loc);
}

Value conv2d_backward_input(Value grad_y, Value weight, const Shape& x_shape, Conv2dOptions opt,
                            const std::source_location& loc) {
  return apply("conv2d_backward_input", {grad_y, weight}, conv_attr_values(opt).set("x_shape", dims(x_shape)), loc);
}

Value conv2d_backward_weight(Value grad_y, Value x, const Shape& w_shape, Conv2dOptions opt,
                             const std::source_location& loc) {
  return apply("conv2d_backward_weight", {grad_y, x}, conv_attr_values(opt).set("w_shape", dims(w_shape)), loc);
}

Value max_pool2d(Value x, Pool2dOptions opt, const std::source_location& loc) {
  return apply("max_pool2d", {x}, pool_attr_values(opt), loc);
}

Value max_pool2d_backward(Value grad_y, Value x, Pool2dOptions opt, const std::source_location& loc) {
  return apply("max_pool2d_backward", {grad_y, x}, pool_attr_values(opt), loc);
}

Value max_pool2d_gather(Value source, Value x, Pool2dOptions opt, const std::source_location& loc) {
  return apply("max_pool2d_gather", {source, x}, pool_attr_values(opt), loc);
}

Value avg_pool2d(Value x, Pool2dOptions opt, const std::source_location& loc) {
  return apply("avg_pool2d", {x}, pool_attr_values(opt), loc);
}

Value avg_pool2d_backward(Value grad_y, const Shape& x_shape, Pool2dOptions opt, const std::source_location& loc) {
  return apply("avg_pool2d_backward", {grad_y}, pool_attr_values(opt).set("x_shape", dims(x_shape)), loc);
}

}  // namespace dagrad
