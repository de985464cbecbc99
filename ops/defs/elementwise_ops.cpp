// Elementwise ops: unary math and activations, binary arithmetic with NumPy
// broadcasting, and the fusible gradient helpers of the activations. The per-element
// math is the functors of ops/elementwise_math.h; ops/cpu/elementwise.h runs them.
#include "ops/cpu/elementwise.h"
#include "ops/defs/families.h"
#include "ops/elementwise_math.h"
#include "ops/ops.h"
#include "ops/registry.h"

namespace dagrad {

namespace {

std::vector<TensorType> infer_unary(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  return {c.inputs[0]};
}

std::vector<TensorType> infer_binary(const InferContext& c) {
  c.expect_inputs(2);
  c.expect_same_dtype();
  c.expect_floating(0);
  return {TensorType{broadcast_shapes(c.inputs[0].shape, c.inputs[1].shape, c.op.name.c_str()), c.inputs[0].dtype}};
}

// FLOPs per output element; a transcendental (exp, erf, tanh, ...) counts as one.
template <int kFlopsPerElement>
Cost elementwise_cost(const Node& n) {
  Cost c;
  for (const Value& v : n.inputs) c.bytes_read += static_cast<double>(v.shape().numel() * dtype_size(v.dtype()));
  const TensorType& out = n.outputs[0];
  c.bytes_written = static_cast<double>(out.shape.numel() * dtype_size(out.dtype));
  c.flops = static_cast<double>(kFlopsPerElement) * static_cast<double>(out.shape.numel());
  return c;
}

// leaky_relu's slope when the attribute is left out (the builder's default in ops.h).
constexpr double kDefaultSlope = 0.01;
double slope_of(const Attrs& a) { return a.get_float_or("negative_slope", kDefaultSlope); }

std::vector<double> slope_param(const Attrs& a) { return {slope_of(a)}; }
std::vector<double> exponent_param(const Attrs& a) { return {a.get_float("exponent")}; }

// The OpDef of an elementwise op computing F<T> (NumParams scalars from `params`).
template <template <class> class F, int NumParams = 0>
OpDef elementwise_op(std::string name, std::string functor, CostFn cost, std::string doc) {
  constexpr bool unary = cpu::is_unary_functor<F>;
  OpDef d;
  d.name = std::move(name);
  d.infer = unary ? infer_unary : infer_binary;
  d.kernels[static_cast<int>(DeviceType::cpu)] = cpu::elementwise_kernel<F, NumParams>;
  d.cost = cost;
  d.flags.elementwise = true;
  // Output i reads only input element i (an executor still checks that input 0 has
  // the output's shape, i.e. is not itself broadcast).
  d.flags.inplace_ok = true;
  d.elementwise.arity = unary ? 1 : 2;
  d.elementwise.functor = std::move(functor);
  d.elementwise.tile_f32 = cpu::tile<F, NumParams, float>;
  d.elementwise.tile_f64 = cpu::tile<F, NumParams, double>;
  d.doc = std::move(doc);
  return d;
}

// The gradient of a broadcast input: sum over the dims broadcasting expanded.
Value unbroadcast(Value g, const Value& input) { return g.shape() == input.shape() ? g : sum_to(g, input.shape()); }

// ---- vjp rules (one Value per input; invalid where none is wanted) ----

using Vjp1 = Value (*)(const VjpContext&, Value g);

// Unary rules share the boilerplate: no incoming gradient or none wanted gives none.
template <Vjp1 rule>
std::vector<Value> unary_vjp(const VjpContext& c) {
  Value g = c.grad_outputs[0];
  if (!g.valid() || !c.needs_grad[0]) return {Value{}};
  return {rule(c, g)};
}

Value relu_grad(const VjpContext& c, Value g) { return relu_backward(g, c.inputs[0]); }
Value leaky_relu_grad(const VjpContext& c, Value g) {
  return leaky_relu_backward(g, c.inputs[0], slope_of(c.node.attrs));
}
Value gelu_grad(const VjpContext& c, Value g) { return gelu_backward(g, c.inputs[0]); }
Value sigmoid_grad(const VjpContext& c, Value g) {
  Value y = c.outputs[0];
  return g * (y * (1.0 - y));
}
Value tanh_grad(const VjpContext& c, Value g) {
  Value y = c.outputs[0];
  return g * (1.0 - y * y);
}
Value exp_grad(const VjpContext& c, Value g) { return g * c.outputs[0]; }
Value log_grad(const VjpContext& c, Value g) { return g / c.inputs[0]; }
Value sqrt_grad(const VjpContext& c, Value g) { return (g * 0.5) / c.outputs[0]; }
Value neg_grad(const VjpContext&, Value g) { return -g; }
Value abs_grad(const VjpContext& c, Value g) { return g * sign(c.inputs[0]); }
Value pow_grad(const VjpContext& c, Value g) {
  const double p = c.node.attrs.get_float("exponent");
  if (p == 0.0) return zeros_like(c.inputs[0]);
  if (p == 1.0) return g;
  return g * (pow(c.inputs[0], p - 1.0) * p);
}

// d/dgrad of grad * f'(x) is f'(x) again; d/dx is grad * f''(x), which is 0 for
// relu and leaky_relu away from their kink, so x is listed as non-differentiable.
std::vector<Value> relu_backward_vjp(const VjpContext& c) {
  Value gg = c.grad_outputs[0];
  if (!gg.valid() || !c.needs_grad[0]) return {Value{}, Value{}};
  return {unbroadcast(relu_backward(gg, c.inputs[1]), c.inputs[0]), Value{}};
}

std::vector<Value> leaky_relu_backward_vjp(const VjpContext& c) {
  Value gg = c.grad_outputs[0];
  if (!gg.valid() || !c.needs_grad[0]) return {Value{}, Value{}};
  const double slope = slope_of(c.node.attrs);
  return {unbroadcast(leaky_relu_backward(gg, c.inputs[1], slope), c.inputs[0]), Value{}};
}

// gelu''(x) = phi(x) * (2 - x^2), phi(x) = exp(-x^2/2) / sqrt(2 pi).
std::vector<Value> gelu_backward_vjp(const VjpContext& c) {
  Value gg = c.grad_outputs[0], grad = c.inputs[0], x = c.inputs[1];
  std::vector<Value> out(2);
  if (!gg.valid()) return out;
  if (c.needs_grad[0]) out[0] = unbroadcast(gelu_backward(gg, x), grad);
  if (c.needs_grad[1]) {
    Value x2 = x * x;
    Value second = exp(x2 * -0.5) * (2.0 - x2) * math::kInvSqrt2Pi;
    out[1] = unbroadcast(gg * grad * second, x);
  }
  return out;
}

// Binary rules: ga and gb have the output's shape and are reduced to each input's.
using Vjp2 = std::pair<Value, Value> (*)(const VjpContext&, Value g);

template <Vjp2 rule>
std::vector<Value> binary_vjp(const VjpContext& c) {
  Value g = c.grad_outputs[0];
  if (!g.valid() || (!c.needs_grad[0] && !c.needs_grad[1])) return {Value{}, Value{}};
  auto [ga, gb] = rule(c, g);
  std::vector<Value> out(2);
  if (c.needs_grad[0]) out[0] = unbroadcast(ga, c.inputs[0]);
  if (c.needs_grad[1]) out[1] = unbroadcast(gb, c.inputs[1]);
  return out;
}

// Rules build only the gradients some input needs (nodes are added eagerly).
std::pair<Value, Value> add_grad(const VjpContext&, Value g) { return {g, g}; }
std::pair<Value, Value> sub_grad(const VjpContext& c, Value g) { return {g, c.needs_grad[1] ? -g : Value{}}; }
std::pair<Value, Value> mul_grad(const VjpContext& c, Value g) {
  Value a = c.inputs[0], b = c.inputs[1];
  return {c.needs_grad[0] ? g * b : Value{}, c.needs_grad[1] ? g * a : Value{}};
}
// y = a / b: da = g / b, db = -g * a / b^2 = -(g / b) * y.
std::pair<Value, Value> div_grad(const VjpContext& c, Value g) {
  Value g_over_b = g / c.inputs[1];
  return {g_over_b, c.needs_grad[1] ? -(g_over_b * c.outputs[0]) : Value{}};
}
// The gradient goes to a where a >= b (as Maximum picks a on ties), else to b.
std::pair<Value, Value> maximum_grad(const VjpContext& c, Value g) {
  Value ga = g * greater_equal(c.inputs[0], c.inputs[1]);
  return {ga, c.needs_grad[1] ? g - ga : Value{}};
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  auto add_op = [&r](OpDef d, VjpFn vjp, bool epilogue = false) {
    d.vjp = vjp;
    d.flags.epilogue_fusible = epilogue;
    if (!vjp)
      for (int i = 0; i < d.elementwise.arity; ++i) d.nondiff_inputs.push_back(i);
    r.add(std::move(d));
  };

  // Unary activations (fusible as GEMM/conv epilogues).
  add_op(elementwise_op<Relu>("relu", "Relu", elementwise_cost<1>, "max(x, 0)"), unary_vjp<relu_grad>, true);
  {
    OpDef d = elementwise_op<LeakyRelu, 1>("leaky_relu", "LeakyRelu", elementwise_cost<2>,
                                           "x where x > 0, else negative_slope * x");
    d.attrs = {{"negative_slope", AttrKind::Float}};
    d.elementwise.params = slope_param;
    add_op(std::move(d), unary_vjp<leaky_relu_grad>, true);
  }
  add_op(elementwise_op<Sigmoid>("sigmoid", "Sigmoid", elementwise_cost<4>, "1 / (1 + exp(-x))"),
         unary_vjp<sigmoid_grad>, true);
  add_op(elementwise_op<Tanh>("tanh", "Tanh", elementwise_cost<1>, "hyperbolic tangent"), unary_vjp<tanh_grad>, true);
  add_op(elementwise_op<Gelu>("gelu", "Gelu", elementwise_cost<5>, "x * Phi(x), the exact (erf) GELU"),
         unary_vjp<gelu_grad>, true);

  // Unary math.
  add_op(elementwise_op<Exp>("exp", "Exp", elementwise_cost<1>, "e^x"), unary_vjp<exp_grad>);
  add_op(elementwise_op<Log>("log", "Log", elementwise_cost<1>, "natural logarithm"), unary_vjp<log_grad>);
  add_op(elementwise_op<Sqrt>("sqrt", "Sqrt", elementwise_cost<1>, "square root"), unary_vjp<sqrt_grad>);
  add_op(elementwise_op<Neg>("neg", "Neg", elementwise_cost<1>, "-x"), unary_vjp<neg_grad>);
  add_op(elementwise_op<Abs>("abs", "Abs", elementwise_cost<1>, "|x|"), unary_vjp<abs_grad>);
  {
    OpDef d = elementwise_op<Pow, 1>("pow", "Pow", elementwise_cost<1>, "x ^ exponent (a scalar)");
    d.attrs = {{"exponent", AttrKind::Float, true}};
    d.elementwise.params = exponent_param;
    add_op(std::move(d), unary_vjp<pow_grad>);
  }
  add_op(elementwise_op<Sign>("sign", "Sign", elementwise_cost<1>, "-1, 0 or 1; no gradient"), nullptr);

  // Binary, NumPy broadcasting.
  add_op(elementwise_op<Add>("add", "Add", elementwise_cost<1>, "a + b (broadcasting)"), binary_vjp<add_grad>, true);
  add_op(elementwise_op<Sub>("sub", "Sub", elementwise_cost<1>, "a - b (broadcasting)"), binary_vjp<sub_grad>);
  add_op(elementwise_op<Mul>("mul", "Mul", elementwise_cost<1>, "a * b (broadcasting)"), binary_vjp<mul_grad>);
  add_op(elementwise_op<Div>("div", "Div", elementwise_cost<1>, "a / b (broadcasting)"), binary_vjp<div_grad>);
  add_op(elementwise_op<Maximum>("maximum", "Maximum", elementwise_cost<1>, "max(a, b) (broadcasting)"),
         binary_vjp<maximum_grad>);
  add_op(elementwise_op<GreaterEqual>("greater_equal", "GreaterEqual", elementwise_cost<1>,
                                      "1 where a >= b else 0, in the inputs' dtype; no gradient"),
         nullptr);

  // Gradient helpers of the activations: (grad, x) -> grad * f'(x).
  {
    OpDef d = elementwise_op<ReluBackward>("relu_backward", "ReluBackward", elementwise_cost<1>,
                                           "grad * (x > 0): the gradient of relu");
    d.nondiff_inputs = {1};
    add_op(std::move(d), relu_backward_vjp);
  }
  {
    OpDef d = elementwise_op<LeakyReluBackward, 1>("leaky_relu_backward", "LeakyReluBackward", elementwise_cost<2>,
                                                   "grad where x > 0, else negative_slope * grad");
    d.attrs = {{"negative_slope", AttrKind::Float}};
    d.elementwise.params = slope_param;
    d.nondiff_inputs = {1};
    add_op(std::move(d), leaky_relu_backward_vjp);
  }
  add_op(elementwise_op<GeluBackward>("gelu_backward", "GeluBackward", elementwise_cost<9>,
                                      "grad * gelu'(x): the gradient of gelu"),
         gelu_backward_vjp);
}

// ---- builders ----

Value relu(Value x, const std::source_location& loc) { return apply("relu", {x}, {}, loc); }
Value leaky_relu(Value x, double negative_slope, const std::source_location& loc) {
  return apply("leaky_relu", {x}, {{"negative_slope", negative_slope}}, loc);
}
Value sigmoid(Value x, const std::source_location& loc) { return apply("sigmoid", {x}, {}, loc); }
Value tanh(Value x, const std::source_location& loc) { return apply("tanh", {x}, {}, loc); }
Value gelu(Value x, const std::source_location& loc) { return apply("gelu", {x}, {}, loc); }
Value exp(Value x, const std::source_location& loc) { return apply("exp", {x}, {}, loc); }
Value log(Value x, const std::source_location& loc) { return apply("log", {x}, {}, loc); }
Value sqrt(Value x, const std::source_location& loc) { return apply("sqrt", {x}, {}, loc); }
Value neg(Value x, const std::source_location& loc) { return apply("neg", {x}, {}, loc); }
Value abs(Value x, const std::source_location& loc) { return apply("abs", {x}, {}, loc); }
Value pow(Value x, double exponent, const std::source_location& loc) {
  return apply("pow", {x}, {{"exponent", exponent}}, loc);
}
Value sign(Value x, const std::source_location& loc) { return apply("sign", {x}, {}, loc); }

Value add(Value a, Value b, const std::source_location& loc) { return apply("add", {a, b}, {}, loc); }
Value sub(Value a, Value b, const std::source_location& loc) { return apply("sub", {a, b}, {}, loc); }
Value mul(Value a, Value b, const std::source_location& loc) { return apply("mul", {a, b}, {}, loc); }
Value div(Value a, Value b, const std::source_location& loc) { return apply("div", {a, b}, {}, loc); }
Value maximum(Value a, Value b, const std::source_location& loc) { return apply("maximum", {a, b}, {}, loc); }
Value greater_equal(Value a, Value b, const std::source_location& loc) {
  return apply("greater_equal", {a, b}, {}, loc);
}
Value relu_backward(Value grad, Value x, const std::source_location& loc) {
  return apply("relu_backward", {grad, x}, {}, loc);
}
Value leaky_relu_backward(Value grad, Value x, double negative_slope, const std::source_location& loc) {
  return apply("leaky_relu_backward", {grad, x}, {{"negative_slope", negative_slope}}, loc);
}
Value gelu_backward(Value grad, Value x, const std::source_location& loc) {
  return apply("gelu_backward", {grad, x}, {}, loc);
}

// ---- operators; a double becomes a scalar [] constant of the other side's dtype ----

namespace {
Value scalar_like(const Value& v, double value) {
  if (!v.valid()) throw GraphError("arithmetic on an invalid (empty) Value");
  return full(*v.graph, Shape{}, value, v.dtype());
}
}  // namespace

Value operator+(Value a, Value b) { return add(a, b); }
Value operator-(Value a, Value b) { return sub(a, b); }
Value operator*(Value a, Value b) { return mul(a, b); }
Value operator/(Value a, Value b) { return div(a, b); }
Value operator-(Value a) { return neg(a); }
Value operator+(Value a, double b) { return add(a, scalar_like(a, b)); }
Value operator-(Value a, double b) { return sub(a, scalar_like(a, b)); }
Value operator*(Value a, double b) { return mul(a, scalar_like(a, b)); }
Value operator/(Value a, double b) { return div(a, scalar_like(a, b)); }
Value operator+(double a, Value b) { return add(scalar_like(b, a), b); }
Value operator-(double a, Value b) { return sub(scalar_like(b, a), b); }
Value operator*(double a, Value b) { return mul(scalar_like(b, a), b); }
Value operator/(double a, Value b) { return div(scalar_like(b, a), b); }

}  // namespace dagrad
