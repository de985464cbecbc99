// Convolution and pooling (NCHW): conv2d with its input- and weight-gradient ops, max
// and average pooling with theirs. Backward ops are ops of their own (with kernels and
// vjps), so gradients of gradients go through the same graph machinery.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/conv.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *conv2d, *conv2d_backward_input, *conv2d_backward_weight, *max_pool2d, *max_pool2d_backward,
    *max_pool2d_gather, *conv2d_max_pool2d, *avg_pool2d, *avg_pool2d_backward;
}  // namespace op

namespace {

// ---- attribute and shape checks shared by the ops below ----

std::string ints_str(const std::vector<int64_t>& v) { return attr_to_string(v); }  // "[1,2]", negatives too

// "3" when both sides agree, "3x1" (height x width) otherwise.
std::string hw_str(int64_t h, int64_t w) { return h == w ? str_cat(h) : str_cat(h, "x", w); }

// A (height, width) parameter: each value >= min_value.
void check_hw(const InferContext& c, const char* name, const Hw& v, int64_t min_value, const char* requirement) {
  if (v.h < min_value || v.w < min_value) c.fail(str_cat(name, " must be ", requirement, ", got ", ints_str({v.h, v.w})));
}

void check_4d(const InferContext& c, const Shape& s, const char* name, const char* layout) {
  if (s.rank() != 4) c.fail(str_cat(name, " must be 4-D ", layout, ", got ", s.to_string()));
  for (size_t i = 1; i < 4; ++i)
    if (s[i] <= 0) c.fail(str_cat(name, " has an empty dimension: ", s.to_string()));
}

// Validates conv parameters and the (x, weight) pair; names appear in the messages.
ConvGeom check_conv(const InferContext& c, const ConvParams& p, const Shape& x, const char* x_name, const Shape& w,
                    const char* w_name) {
  check_hw(c, "stride", p.stride, 1, "positive");
  check_hw(c, "padding", p.padding, 0, "non-negative");
  check_hw(c, "dilation", p.dilation, 1, "positive");
  if (p.groups != 1) c.fail(str_cat("groups must be 1 (grouped convolutions are not supported yet), got ", p.groups));
  check_4d(c, x, x_name, "[N,C,H,W]");
  check_4d(c, w, w_name, "[O,C,KH,KW]");
  if (w[0] <= 0) c.fail(str_cat(w_name, " has an empty dimension: ", w.to_string()));
  if (x[1] != w[1])
    c.fail(str_cat(x_name, " has ", x[1], " channels but ", w_name, " expects ", w[1], " (", x_name, " ", x.to_string(),
                   ", ", w_name, " ", w.to_string(), ")"));
  ConvGeom g = conv_geom(x, w, p);
  if (g.oh <= 0 || g.ow <= 0)
    c.fail(str_cat("output would be empty: ", x_name, " ", x[2], "x", x[3], " with kernel ", w[2], "x", w[3],
                   ", padding ", hw_str(g.ph, g.pw), ", dilation ", hw_str(g.dh, g.dw)));
  return g;
}

Shape conv_out_shape(const ConvGeom& g) { return Shape{g.n, g.o, g.oh, g.ow}; }

// grad_y must have the shape that the forward op produced.
void check_grad_y(const InferContext& c, const Shape& want, const std::string& forward) {
  const Shape& got = c.inputs[0].shape;
  if (got != want) c.fail(str_cat("grad_y is ", got.to_string(), " but ", forward, " gives ", want.to_string()));
}

Shape shape_attr(const InferContext& c, const char* name, const std::vector<int64_t>& v) {
  for (int64_t d : v)
    if (d < 0) c.fail(str_cat(name, " has a negative dimension: ", ints_str(v)));
  return Shape(v);
}

PoolGeom check_pool(const InferContext& c, const PoolParams& p, const Shape& x, const char* x_name) {
  check_hw(c, "kernel", p.kernel, 1, "positive");
  check_hw(c, "stride", p.stride, 1, "positive");
  check_hw(c, "padding", p.padding, 0, "non-negative");
  check_4d(c, x, x_name, "[N,C,H,W]");
  PoolGeom g = pool_geom(x, p);
  // A window wholly inside the padding would have no element to pool.
  if (2 * g.ph > g.kh || 2 * g.pw > g.kw)
    c.fail(str_cat("padding ", ints_str({g.ph, g.pw}), " must be at most half the kernel ", ints_str({g.kh, g.kw})));
  if (g.oh <= 0 || g.ow <= 0)
    c.fail(str_cat("output would be empty: ", x_name, " ", x[2], "x", x[3], " with kernel ", g.kh, "x", g.kw,
                   ", padding ", hw_str(g.ph, g.pw)));
  return g;
}

Shape pool_out_shape(const PoolGeom& g) { return Shape{g.n, g.c, g.oh, g.ow}; }

// ---- shape inference ----

// x and weight multiply (float32 output for 16-bit ones); the bias adds to the output.
TensorType conv_output(const InferContext& c, const ConvParams& p) {
  if (c.inputs.size() != 2 && c.inputs.size() != 3)
    c.fail(str_cat("expects 2 or 3 inputs (x, weight[, bias]), got ", c.inputs.size()));
  const DType out = c.product_dtype();
  ConvGeom g = check_conv(c, p, c.inputs[0].shape, "input", c.inputs[1].shape, "weight");
  if (c.inputs.size() == 3) {
    if (c.inputs[2].shape != Shape{g.o})
      c.fail(str_cat("bias must be [", g.o, "] (one value per output channel), got ", c.inputs[2].shape.to_string()));
    if (c.inputs[2].dtype != out)
      throw TypeError(str_cat("[", c.op.name, "] bias is ", dtype_name(c.inputs[2].dtype), " but the output is ",
                              dtype_name(out),
                              is_half(c.inputs[0].dtype) ? " (16-bit inputs accumulate in float32)" : "",
                              "; give the bias as ", dtype_name(out)));
  }
  return TensorType{conv_out_shape(g), out};
}

std::vector<TensorType> infer_conv2d(const InferContext& c) { return {conv_output(c, c.params<ConvParams>())}; }

std::vector<TensorType> infer_conv2d_backward_input(const InferContext& c) {
  c.expect_inputs(2);
  const DType out = c.product_dtype();
  const ConvInputGradParams& p = c.params<ConvInputGradParams>();
  Shape x = shape_attr(c, "x_shape", p.x_shape);
  const Shape& w = c.inputs[1].shape;
  ConvGeom g = check_conv(c, p, x, "x_shape", w, "weight");
  check_grad_y(c, conv_out_shape(g), str_cat("conv2d of x_shape ", x.to_string(), " with weight ", w.to_string()));
  return {TensorType{x, out}};
}

std::vector<TensorType> infer_conv2d_backward_weight(const InferContext& c) {
  c.expect_inputs(2);
  const DType out = c.product_dtype();
  const Shape& x = c.inputs[1].shape;
  const ConvWeightGradParams& p = c.params<ConvWeightGradParams>();
  Shape w = shape_attr(c, "w_shape", p.w_shape);
  ConvGeom g = check_conv(c, p, x, "x", w, "w_shape");
  check_grad_y(c, conv_out_shape(g), str_cat("conv2d of x ", x.to_string(), " with w_shape ", w.to_string()));
  return {TensorType{w, out}};
}

std::vector<TensorType> infer_pool(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  return {TensorType{pool_out_shape(check_pool(c, c.params<PoolParams>(), c.inputs[0].shape, "input")), c.inputs[0].dtype}};
}

// Max pooling also returns where each window's maximum lies (PoolIndex positions).
PoolGeom check_max_pool(const InferContext& c, const PoolParams& p, const Shape& x, const char* x_name) {
  const PoolGeom g = check_pool(c, p, x, x_name);
  if (g.window() > kMaxPoolWindow)
    c.fail(str_cat("kernel ", g.kh, "x", g.kw, " has ", g.window(), " positions; max pooling records each window's ",
                   "argmax in uint16, which holds at most ", kMaxPoolWindow));
  return g;
}

std::vector<TensorType> infer_max_pool2d(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  const Shape y = pool_out_shape(check_max_pool(c, c.params<PoolParams>(), c.inputs[0].shape, "input"));
  return {TensorType{y, c.inputs[0].dtype}, TensorType{y, DType::u16}};
}

// The convolution's output, pooled, and the argmax, as max_pool2d gives them.
std::vector<TensorType> infer_conv2d_max_pool2d(const InferContext& c) {
  const ConvPoolParams& p = c.params<ConvPoolParams>();
  const TensorType conv = conv_output(c, p);
  const Shape y = pool_out_shape(check_max_pool(c, p.pool(), conv.shape, "the convolution's output"));
  return {TensorType{y, conv.dtype}, TensorType{y, DType::u16}};
}

// `argmax` must be max_pool2d's index output for x's windows.
void check_argmax(const InferContext& c, const Shape& pooled, const std::string& forward) {
  const TensorType& a = c.inputs[1];
  if (a.dtype != DType::u16)
    throw TypeError(
        str_cat("[", c.op.name, "] argmax must be max_pool2d's uint16 index output, got ", dtype_name(a.dtype)));
  if (a.shape != pooled)
    c.fail(str_cat("argmax is ", a.shape.to_string(), " but ", forward, " gives ", pooled.to_string()));
}

// (grad_y, argmax) -> x_shape.
std::vector<TensorType> infer_max_pool2d_backward(const InferContext& c) {
  c.expect_inputs(2);
  c.expect_float(0);
  const PoolGradParams& p = c.params<PoolGradParams>();
  const Shape x = shape_attr(c, "x_shape", p.x_shape);
  const Shape pooled = pool_out_shape(check_max_pool(c, p, x, "x_shape"));
  const std::string forward = str_cat("pooling x_shape ", x.to_string());
  check_grad_y(c, pooled, forward);
  check_argmax(c, pooled, forward);
  return {TensorType{x, c.inputs[0].dtype}};
}

// (source, argmax) -> pooled shape.
std::vector<TensorType> infer_max_pool2d_gather(const InferContext& c) {
  c.expect_inputs(2);
  c.expect_floating(0);
  const Shape& x = c.inputs[0].shape;
  const Shape pooled = pool_out_shape(check_max_pool(c, c.params<PoolParams>(), x, "source"));
  check_argmax(c, pooled, str_cat("pooling source ", x.to_string()));
  return {TensorType{pooled, c.inputs[0].dtype}};
}

std::vector<TensorType> infer_avg_pool2d_backward(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  const PoolGradParams& p = c.params<PoolGradParams>();
  Shape x = shape_attr(c, "x_shape", p.x_shape);
  check_grad_y(c, pool_out_shape(check_pool(c, p, x, "x_shape")), str_cat("pooling x_shape ", x.to_string()));
  return {TensorType{x, c.inputs[0].dtype}};
}

// ---- costs ----

Cost io_bytes(const Node& n) {
  Cost c;
  for (const Value& v : n.inputs) c.bytes_read += static_cast<double>(v.shape().numel() * dtype_size(v.dtype()));
  for (const TensorType& t : n.outputs) c.bytes_written += static_cast<double>(t.shape.numel() * dtype_size(t.dtype));
  return c;
}

double conv_flops(const ConvGeom& g) { return 2.0 * g.n * g.o * g.out_pixels() * g.patch(); }

Cost conv2d_cost(const Node& n) {
  Cost c = io_bytes(n);
  ConvGeom g = conv_geom(n.inputs[0].shape(), n.inputs[1].shape(), n.params<ConvParams>());
  c.flops = conv_flops(g) + (n.inputs.size() > 2 ? static_cast<double>(n.outputs[0].shape.numel()) : 0.0);
  return c;
}

Cost conv2d_backward_input_cost(const Node& n) {
  Cost c = io_bytes(n);
  c.flops = conv_flops(conv_geom(n.outputs[0].shape, n.inputs[1].shape(), n.params<ConvInputGradParams>()));
  return c;
}

Cost conv2d_backward_weight_cost(const Node& n) {
  Cost c = io_bytes(n);
  c.flops = conv_flops(conv_geom(n.inputs[1].shape(), n.outputs[0].shape, n.params<ConvWeightGradParams>()));
  return c;
}

// The convolution's FLOPs and one operation per window element; bytes are the op's own
// inputs and outputs (the convolution's output never goes to memory).
Cost conv2d_max_pool2d_cost(const Node& n) {
  Cost c = io_bytes(n);
  const ConvPoolParams& p = n.params<ConvPoolParams>();
  const ConvGeom g = conv_geom(n.inputs[0].shape(), n.inputs[1].shape(), p);
  c.flops = conv_flops(g) + (n.inputs.size() > 2 ? static_cast<double>(g.n * g.o * g.out_pixels()) : 0.0) +
            static_cast<double>(n.outputs[0].shape.numel() * p.pool_kernel.h * p.pool_kernel.w);
  return c;
}

// One operation per window element of every pooled value.
template <class P, bool kBackward>
Cost pool_cost(const Node& n) {
  Cost c = io_bytes(n);
  const Hw k = n.params<P>().kernel;
  const Shape& pooled = kBackward ? n.inputs[0].shape() : n.outputs[0].shape;  // grad_y for the backward ops
  c.flops = static_cast<double>(pooled.numel() * k.h * k.w);
  return c;
}

// ---- vjps ----
// y = conv(x, w) is linear in each argument: dx = conv_transpose(dy, w) (backward_input)
// and dw = correlate(dy, x) (backward_weight). Each backward op is itself linear in both
// inputs, and <gg, backward_input(dy, w)> = <conv(gg, w), dy>, which gives the rules below.
// With 16-bit operands the incoming float32 gradient is cast to their dtype for the
// product, and each float32 result back to its input's dtype (casts to the same dtype add
// no node).

// The forward's parameters, from any op of the family (the backward ops' structs derive from them).
template <class P>
ConvParams conv_options(const Node& n) {
  return n.params<P>();
}
template <class P>
PoolParams pool_options(const Node& n) {
  return n.params<P>();
}

// The gradients of conv2d(inputs) for its output's gradient gy.
std::vector<Value> conv_grads(const VjpContext& c, const ConvParams& opt, Value gy) {
  Value x = c.inputs[0], w = c.inputs[1];
  std::vector<Value> grads(c.inputs.size());
  const Value gy_in = c.needs_grad[0] || c.needs_grad[1] ? cast(gy, x.dtype()) : Value{};
  if (c.needs_grad[0]) grads[0] = cast(conv2d_backward_input(gy_in, w, x.shape(), opt), x.dtype());
  if (c.needs_grad[1]) grads[1] = cast(conv2d_backward_weight(gy_in, x, w.shape(), opt), w.dtype());
  if (c.inputs.size() > 2 && c.needs_grad[2]) grads[2] = sum(gy, {0, 2, 3});  // db[O]
  return grads;
}

std::vector<Value> conv2d_vjp(const VjpContext& c) {
  return conv_grads(c, conv_options<ConvParams>(c.node), c.grad_outputs[0]);
}

// The pooled gradient scattered to the convolution's output, then conv2d's rule.
std::vector<Value> conv2d_max_pool2d_vjp(const VjpContext& c) {
  if (!c.grad_outputs[0].valid()) return std::vector<Value>(c.inputs.size());
  const ConvPoolParams& p = c.node.params<ConvPoolParams>();
  const ConvGeom g = conv_geom(c.inputs[0].shape(), c.inputs[1].shape(), p);
  return conv_grads(c, p, max_pool2d_backward(c.grad_outputs[0], c.outputs[1], conv_out_shape(g), p.pool()));
}

// dx = backward_input(dy, w); gg has x's shape.
std::vector<Value> conv2d_backward_input_vjp(const VjpContext& c) {
  const ConvParams opt = conv_options<ConvInputGradParams>(c.node);
  Value dy = c.inputs[0], w = c.inputs[1], gg = cast(c.grad_outputs[0], c.inputs[0].dtype());
  std::vector<Value> grads(2);
  if (c.needs_grad[0]) grads[0] = cast(conv2d(gg, w, {}, opt), dy.dtype());                          // [N,O,OH,OW]
  if (c.needs_grad[1]) grads[1] = cast(conv2d_backward_weight(dy, gg, w.shape(), opt), w.dtype());  // [O,C,KH,KW]
  return grads;
}

// dw = backward_weight(dy, x); gg has w's shape.
std::vector<Value> conv2d_backward_weight_vjp(const VjpContext& c) {
  const ConvParams opt = conv_options<ConvWeightGradParams>(c.node);
  Value dy = c.inputs[0], x = c.inputs[1], gg = cast(c.grad_outputs[0], c.inputs[0].dtype());
  std::vector<Value> grads(2);
  if (c.needs_grad[0]) grads[0] = cast(conv2d(x, gg, {}, opt), dy.dtype());                         // [N,O,OH,OW]
  if (c.needs_grad[1]) grads[1] = cast(conv2d_backward_input(dy, gg, x.shape(), opt), x.dtype());  // [N,C,H,W]
  return grads;
}

std::vector<Value> max_pool2d_vjp(const VjpContext& c) {
  if (!c.needs_grad[0] || !c.grad_outputs[0].valid()) return {Value{}};
  return {max_pool2d_backward(c.grad_outputs[0], c.outputs[1], c.inputs[0].shape(), pool_options<PoolParams>(c.node))};
}

// Scattering to the argmax and gathering from it are adjoint; the argmax itself has no
// gradient (nondiff_inputs).
std::vector<Value> max_pool2d_backward_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}, Value{}};
  return {max_pool2d_gather(c.grad_outputs[0], c.inputs[1], pool_options<PoolGradParams>(c.node)), Value{}};
}

std::vector<Value> max_pool2d_gather_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}, Value{}};
  return {max_pool2d_backward(c.grad_outputs[0], c.inputs[1], c.inputs[0].shape(), pool_options<PoolParams>(c.node)),
          Value{}};
}

// Windows that do not overlap route each gradient element to its own input element.
bool windows_do_not_overlap(const Node& n) {
  const PoolGradParams& p = n.params<PoolGradParams>();
  return p.stride.h >= p.kernel.h && p.stride.w >= p.kernel.w;
}

std::vector<Value> avg_pool2d_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}};
  return {avg_pool2d_backward(c.grad_outputs[0], c.inputs[0].shape(), pool_options<PoolParams>(c.node))};
}

// avg_pool2d_backward is avg_pool2d's adjoint, so its own vjp is avg_pool2d.
std::vector<Value> avg_pool2d_backward_vjp(const VjpContext& c) {
  if (!c.needs_grad[0]) return {Value{}};
  return {avg_pool2d(c.grad_outputs[0], pool_options<PoolGradParams>(c.node))};
}

}  // namespace

// ---- registration ----

void register_conv_ops(OpRegistry& r) {
  op::conv2d = &r.add({.name = "conv2d",
                       .kind = OpKind::convolution,
                       .flags = {.accepts_epilogue = true},
                       .params = params_codec<ConvParams>(),
                       .infer = infer_conv2d,
                       .vjp = conv2d_vjp,
                       .cost = conv2d_cost,
                       .low_precision_inputs = {0, 1},
                       .doc = "2-D convolution: x [N,C,H,W], weight [O,C,KH,KW], optional bias [O]"});
  op::conv2d_backward_input = &r.add({.name = "conv2d_backward_input",
                                      .kind = OpKind::convolution,
                                      .flags = {.accepts_epilogue = true},
                                      .params = params_codec<ConvInputGradParams>(),
                                      .infer = infer_conv2d_backward_input,
                                      .vjp = conv2d_backward_input_vjp,
                                      .cost = conv2d_backward_input_cost,
                                      .low_precision_inputs = {0, 1},
                                      .doc = "gradient of conv2d with respect to x: (grad_y, weight) -> [N,C,H,W]"});
  op::conv2d_backward_weight =
      &r.add({.name = "conv2d_backward_weight",
              .kind = OpKind::convolution,
              .params = params_codec<ConvWeightGradParams>(),
              .infer = infer_conv2d_backward_weight,
              .vjp = conv2d_backward_weight_vjp,
              .cost = conv2d_backward_weight_cost,
              .low_precision_inputs = {0, 1},
              .doc = "gradient of conv2d with respect to the weight: (grad_y, x) -> [O,C,KH,KW]"});
  op::max_pool2d =
      &r.add({.name = "max_pool2d",
              .kind = OpKind::pooling,
              .flags = {.accepts_epilogue = true, .selects_max = true},  // relu, moved after it
              .params = params_codec<PoolParams>(),
              .infer = infer_max_pool2d,
              .vjp = max_pool2d_vjp,
              .cost = pool_cost<PoolParams, false>,
              .doc = "2-D max pooling over kernel windows (padding never wins): (x) -> (y, argmax uint16)"});
  op::max_pool2d_backward = &r.add(
      {.name = "max_pool2d_backward",
       .kind = OpKind::pooling,
       // epilogues: the gradient's cast (bfloat16), relu_backward
       .flags = {.accepts_epilogue = true, .scatters_input0 = true},
       .params = params_codec<PoolGradParams>(),
       .infer = infer_max_pool2d_backward,
       .vjp = max_pool2d_backward_vjp,
       .cost = pool_cost<PoolGradParams, true>,
       .nondiff_inputs = {1},
       .moves_input0 = windows_do_not_overlap,
       .doc = "gradient of max_pool2d: (grad_y, argmax) -> [N,C,H,W] of x_shape, each grad_y at its window's max"});
  op::max_pool2d_gather = &r.add({.name = "max_pool2d_gather",
                                  .kind = OpKind::pooling,
                                  .params = params_codec<PoolParams>(),
                                  .infer = infer_max_pool2d_gather,
                                  .vjp = max_pool2d_gather_vjp,
                                  .cost = pool_cost<PoolParams, false>,
                                  .nondiff_inputs = {1},
                                  .doc = "(source, argmax) -> source where max_pool2d's argmax output points"});
  op::conv2d_max_pool2d = &r.add(
      {.name = "conv2d_max_pool2d",
       .kind = OpKind::convolution,
       .flags = {.accepts_epilogue = true},  // relu, moved after the pooling
       .params = params_codec<ConvPoolParams>(),
       .infer = infer_conv2d_max_pool2d,
       .vjp = conv2d_max_pool2d_vjp,
       .cost = conv2d_max_pool2d_cost,
       .low_precision_inputs = {0, 1},
       .doc = "max_pool2d(conv2d(x, weight[, bias])) without storing the convolution's output: (x, weight[, bias]) "
              "-> (y, argmax uint16)"});
  op::avg_pool2d = &r.add({.name = "avg_pool2d",
                           .kind = OpKind::pooling,
                           .params = params_codec<PoolParams>(),
                           .infer = infer_pool,
                           .vjp = avg_pool2d_vjp,
                           .cost = pool_cost<PoolParams, false>,
                           .doc = "2-D average pooling; padding counts as zeros (divides by kh*kw)"});
  op::avg_pool2d_backward = &r.add({.name = "avg_pool2d_backward",
                                    .kind = OpKind::pooling,
                                    .params = params_codec<PoolGradParams>(),
                                    .infer = infer_avg_pool2d_backward,
                                    .vjp = avg_pool2d_backward_vjp,
                                    .cost = pool_cost<PoolGradParams, true>,
                                    .doc = "gradient of avg_pool2d: (grad_y) -> [N,C,H,W]"});
}

// ---- builders ----

namespace {

std::vector<int64_t> dims(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

}  // namespace

Value conv2d(Value x, Value weight, Value bias, Conv2dOptions opt, const std::source_location& loc) {
  std::vector<Value> inputs{x, weight};
  if (bias.valid()) inputs.push_back(bias);
  return apply("conv2d", std::move(inputs), encode_params(opt), loc);
}

Value conv2d_backward_input(Value grad_y, Value weight, const Shape& x_shape, Conv2dOptions opt,
                            const std::source_location& loc) {
  return apply("conv2d_backward_input", {grad_y, weight}, encode_params(ConvInputGradParams{opt, dims(x_shape)}), loc);
}

Value conv2d_backward_weight(Value grad_y, Value x, const Shape& w_shape, Conv2dOptions opt,
                             const std::source_location& loc) {
  return apply("conv2d_backward_weight", {grad_y, x}, encode_params(ConvWeightGradParams{opt, dims(w_shape)}), loc);
}

Value max_pool2d(Value x, Pool2dOptions opt, const std::source_location& loc) {
  return apply("max_pool2d", {x}, encode_params(opt), loc);
}

Value max_pool2d_backward(Value grad_y, Value argmax, const Shape& x_shape, Pool2dOptions opt,
                          const std::source_location& loc) {
  return apply("max_pool2d_backward", {grad_y, argmax}, encode_params(PoolGradParams{opt, dims(x_shape)}), loc);
}

Value max_pool2d_gather(Value source, Value argmax, Pool2dOptions opt, const std::source_location& loc) {
  return apply("max_pool2d_gather", {source, argmax}, encode_params(opt), loc);
}

Value conv2d_max_pool2d(Value x, Value weight, Value bias, Conv2dOptions conv, Pool2dOptions pool,
                        const std::source_location& loc) {
  std::vector<Value> inputs{x, weight};
  if (bias.valid()) inputs.push_back(bias);
  ConvPoolParams p;
  static_cast<ConvParams&>(p) = conv;
  p.pool_kernel = pool.kernel, p.pool_stride = pool.stride, p.pool_padding = pool.padding;
  return apply("conv2d_max_pool2d", std::move(inputs), encode_params(p), loc);
}

Value avg_pool2d(Value x, Pool2dOptions opt, const std::source_location& loc) {
  return apply("avg_pool2d", {x}, encode_params(opt), loc);
}

Value avg_pool2d_backward(Value grad_y, const Shape& x_shape, Pool2dOptions opt, const std::source_location& loc) {
  return apply("avg_pool2d_backward", {grad_y}, encode_params(PoolGradParams{opt, dims(x_shape)}), loc);
}

}  // namespace dagrad
