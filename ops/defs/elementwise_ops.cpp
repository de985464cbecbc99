// Elementwise ops: unary math and activations, binary arithmetic with NumPy
// broadcasting, and the fusible gradient helpers of the activations. Each is its
// functor (ops/elementwise_math.h), one registry entry below and its reference cases
// (tests/ops/elementwise_cases.cpp): every backend runs it from that per-element form.
#include <algorithm>

#include "ops/defs/families.h"
#include "ops/elementwise_form.h"
#include "ops/ops.h"
#include "ops/params/elementwise.h"
#include "ops/registry.h"

namespace dagrad {

namespace {

// Any floating dtype: 16-bit inputs are computed in float32 and rounded back.
std::vector<TensorType> infer_unary(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_float(0);
  return {c.inputs[0]};
}

// Both inputs of one dtype, except an input read only through its sign, which need only
// share input 0's compute type (OpDef::sign_only_inputs).
std::vector<TensorType> infer_binary(const InferContext& c) {
  c.expect_inputs(2);
  c.expect_float(0);
  if (std::ranges::find(c.op.sign_only_inputs, 1) == c.op.sign_only_inputs.end()) {
    c.expect_same_dtype();
  } else {
    c.expect_float(1);
    if (compute_dtype(c.inputs[1].dtype) != compute_dtype(c.inputs[0].dtype))
      throw TypeError(str_cat("[", c.op.name, "] the mask (input 1) is ", dtype_name(c.inputs[1].dtype),
                              " but the gradient is ", dtype_name(c.inputs[0].dtype),
                              "; they may differ only among float32, bfloat16 and float16"));
  }
  return {TensorType{broadcast_shapes(c.inputs[0].shape, c.inputs[1].shape, c.op.name.c_str()), c.inputs[0].dtype}};
}

// FLOPs per output element; a transcendental (exp, erf, tanh, ...) counts as one.
template <int kFlopsPerElement>
Cost flops(const Node& n) {
  Cost c;
  for (const Value& v : n.inputs) c.bytes_read += static_cast<double>(v.shape().numel() * dtype_size(v.dtype()));
  const TensorType& out = n.outputs[0];
  c.bytes_written = static_cast<double>(out.shape.numel() * dtype_size(out.dtype));
  c.flops = static_cast<double>(kFlopsPerElement) * static_cast<double>(out.shape.numel());
  return c;
}

// An elementwise op computing the functor F (scalar members from P's double fields):
// everything but its name, vjp, cost, flags and doc derives from F and P. Output i
// reads only input element i, so it may overwrite input 0 (an executor still checks
// that input 0 has the output's shape, i.e. is not itself broadcast).
template <template <class> class F, class P = void>
OpDef elementwise(OpDef d) {
  d.kind = OpKind::elementwise;
  d.flags.inplace_ok = true;
  if constexpr (!std::is_void_v<P>) d.params = params_codec<P>();
  d.elementwise = elementwise_form<F, P>();
  d.infer = d.elementwise->arity == 1 ? infer_unary : infer_binary;
  if (!d.vjp && d.nondiff_inputs.empty())
    for (int i = 0; i < d.elementwise->arity; ++i) d.nondiff_inputs.push_back(i);
  return d;
}

Value scalar_like(const Value& v, double value) {
  if (!v.valid()) throw GraphError("arithmetic on an invalid (empty) Value");
  return full(*v.graph, Shape{}, value, v.dtype());
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

// relu(x) > 0 exactly where x > 0, so the mask reads relu's output: x itself need not be
// kept for the backward pass, and a convolution's fused relu may overwrite its output.
Value relu_grad(const VjpContext& c, Value g) { return relu_backward(g, c.outputs[0]); }
double slope_of(const Node& n) { return n.params<SlopeParams>().negative_slope; }

Value leaky_relu_grad(const VjpContext& c, Value g) { return leaky_relu_backward(g, c.inputs[0], slope_of(c.node)); }
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
// erf'(x) = 2/sqrt(pi) · exp(-x²).
Value erf_grad(const VjpContext& c, Value g) {
  Value x = c.inputs[0];
  return g * (exp(x * x * -1.0) * math::kTwoOverSqrtPi);
}
Value log_grad(const VjpContext& c, Value g) { return g / c.inputs[0]; }
Value sqrt_grad(const VjpContext& c, Value g) { return (g * 0.5) / c.outputs[0]; }
Value neg_grad(const VjpContext&, Value g) { return -g; }
Value abs_grad(const VjpContext& c, Value g) { return g * sign(c.inputs[0]); }
Value pow_grad(const VjpContext& c, Value g) {
  const double p = c.node.params<ExponentParams>().exponent;
  if (p == 0.0) return zeros_like(c.inputs[0]);
  if (p == 1.0) return g;
  return g * (pow(c.inputs[0], p - 1.0) * p);
}

// silu'(x) = s·(1 + x·(1 - s)), s = sigmoid(x).
Value silu_grad(const VjpContext& c, Value g) {
  Value x = c.inputs[0], s = sigmoid(x);
  return g * (s * (1.0 + x * (1.0 - s)));
}

// hardswish'(x) = (2x + 3)/6 on [-3, 3), 1 above, 0 below.
Value hardswish_grad(const VjpContext& c, Value g) {
  Value x = c.inputs[0];
  Value lo = greater_equal(x, scalar_like(x, -3.0)), hi = greater_equal(x, scalar_like(x, 3.0));
  return g * (lo * (1.0 - hi) * ((x * 2.0 + 3.0) / 6.0) + hi);
}

// softplus'(x) = sigmoid(beta·x), and 1 where the op is linear (beta·x > threshold).
Value softplus_grad(const VjpContext& c, Value g) {
  const SoftplusParams& p = c.node.params<SoftplusParams>();
  Value z = c.inputs[0] * p.beta, s = sigmoid(z);
  Value linear = greater_equal(z, scalar_like(z, p.threshold));
  return g * (s + linear * (1.0 - s));
}

// Derivatives of the trigonometric and hyperbolic functions, from x or from y = f(x).
Value sin_grad(const VjpContext& c, Value g) { return g * cos(c.inputs[0]); }
Value cos_grad(const VjpContext& c, Value g) { return -(g * sin(c.inputs[0])); }
Value tan_grad(const VjpContext& c, Value g) { return g * (c.outputs[0] * c.outputs[0] + 1.0); }
Value asin_grad(const VjpContext& c, Value g) { return g / sqrt(1.0 - c.inputs[0] * c.inputs[0]); }
Value acos_grad(const VjpContext& c, Value g) { return -(g / sqrt(1.0 - c.inputs[0] * c.inputs[0])); }
Value atan_grad(const VjpContext& c, Value g) { return g / (c.inputs[0] * c.inputs[0] + 1.0); }
Value sinh_grad(const VjpContext& c, Value g) { return g * cosh(c.inputs[0]); }
Value cosh_grad(const VjpContext& c, Value g) { return g * sinh(c.inputs[0]); }
Value asinh_grad(const VjpContext& c, Value g) { return g / sqrt(c.inputs[0] * c.inputs[0] + 1.0); }
Value acosh_grad(const VjpContext& c, Value g) { return g / sqrt(c.inputs[0] * c.inputs[0] - 1.0); }
Value atanh_grad(const VjpContext& c, Value g) { return g / (1.0 - c.inputs[0] * c.inputs[0]); }

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
  const double slope = slope_of(c.node);
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
// y = a^b: da = g·b·a^(b-1), db = g·y·log(a) (a > 0 where b needs a gradient).
std::pair<Value, Value> pow_tensor_grad(const VjpContext& c, Value g) {
  Value a = c.inputs[0], b = c.inputs[1];
  return {c.needs_grad[0] ? g * b * pow(a, b - 1.0) : Value{},
          c.needs_grad[1] ? g * c.outputs[0] * log(a) : Value{}};
}
// y = a - trunc(a/b)·b: da = g, db = -g·trunc(a/b) = -g·(a - y)/b.
std::pair<Value, Value> fmod_grad(const VjpContext& c, Value g) {
  Value a = c.inputs[0], b = c.inputs[1];
  return {g, c.needs_grad[1] ? -(g * (a - c.outputs[0]) / b) : Value{}};
}

// The gradient goes to a where b >= a (as Minimum picks a on ties), else to b.
std::pair<Value, Value> minimum_grad(const VjpContext& c, Value g) {
  Value ga = g * greater_equal(c.inputs[1], c.inputs[0]);
  return {ga, c.needs_grad[1] ? g - ga : Value{}};
}

// The gradient goes to a where a >= b (as Maximum picks a on ties), else to b.
std::pair<Value, Value> maximum_grad(const VjpContext& c, Value g) {
  Value ga = g * greater_equal(c.inputs[0], c.inputs[1]);
  return {ga, c.needs_grad[1] ? g - ga : Value{}};
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  constexpr OpFlags kEpilogue{.epilogue_fusible = true};

  // Unary activations (fusible as GEMM/conv epilogues).
  r.add(elementwise<Relu>({.name = "relu",
                           .flags = {.epilogue_fusible = true, .commutes_with_max = true},
                           .vjp = unary_vjp<relu_grad>,
                           .cost = flops<1>,
                           .doc = "max(x, 0)"}));
  r.add(elementwise<LeakyRelu, SlopeParams>({.name = "leaky_relu",
                                             .flags = kEpilogue,
                                             .vjp = unary_vjp<leaky_relu_grad>,
                                             .cost = flops<2>,
                                             .doc = "x where x > 0, else negative_slope * x"}));
  r.add(elementwise<Sigmoid>({.name = "sigmoid",
                              .flags = kEpilogue,
                              .vjp = unary_vjp<sigmoid_grad>,
                              .cost = flops<4>,
                              .doc = "1 / (1 + exp(-x))"}));
  r.add(elementwise<Tanh>(
      {.name = "tanh", .flags = kEpilogue, .vjp = unary_vjp<tanh_grad>, .cost = flops<1>, .doc = "hyperbolic tangent"}));
  r.add(elementwise<Gelu>({.name = "gelu",
                           .flags = kEpilogue,
                           .vjp = unary_vjp<gelu_grad>,
                           .cost = flops<5>,
                           .doc = "x * Phi(x), the exact (erf) GELU"}));
  r.add(elementwise<Silu>({.name = "silu",
                           .flags = kEpilogue,
                           .vjp = unary_vjp<silu_grad>,
                           .cost = flops<5>,
                           .doc = "x * sigmoid(x) (SiLU, swish)"}));
  r.add(elementwise<HardSwish>({.name = "hardswish",
                                .flags = kEpilogue,
                                .vjp = unary_vjp<hardswish_grad>,
                                .cost = flops<5>,
                                .doc = "x * relu6(x + 3) / 6"}));
  r.add(elementwise<Softplus, SoftplusParams>({.name = "softplus",
                                               .flags = kEpilogue,
                                               .vjp = unary_vjp<softplus_grad>,
                                               .cost = flops<5>,
                                               .doc = "log(1 + exp(beta * x)) / beta; x where beta * x > threshold"}));

  // Unary math.
  r.add(elementwise<Erf>({.name = "erf",
                          .flags = kEpilogue,
                          .vjp = unary_vjp<erf_grad>,
                          .cost = flops<1>,
                          .doc = "the Gauss error function 2/sqrt(pi) * integral of exp(-t^2) from 0 to x"}));
  r.add(elementwise<Exp>({.name = "exp", .vjp = unary_vjp<exp_grad>, .cost = flops<1>, .doc = "e^x"}));
  r.add(elementwise<Log>({.name = "log", .vjp = unary_vjp<log_grad>, .cost = flops<1>, .doc = "natural logarithm"}));
  r.add(elementwise<Sqrt>({.name = "sqrt", .vjp = unary_vjp<sqrt_grad>, .cost = flops<1>, .doc = "square root"}));
  r.add(elementwise<Neg>({.name = "neg", .vjp = unary_vjp<neg_grad>, .cost = flops<1>, .doc = "-x"}));
  r.add(elementwise<Abs>({.name = "abs", .vjp = unary_vjp<abs_grad>, .cost = flops<1>, .doc = "|x|"}));
  r.add(elementwise<Pow, ExponentParams>(
      {.name = "pow", .vjp = unary_vjp<pow_grad>, .cost = flops<1>, .doc = "x ^ exponent (a scalar)"}));
  r.add(elementwise<Sign>({.name = "sign", .cost = flops<1>, .doc = "-1, 0 or 1; no gradient"}));

  // Trigonometric, hyperbolic and rounding functions.
  r.add(elementwise<Sin>({.name = "sin", .vjp = unary_vjp<sin_grad>, .cost = flops<1>, .doc = "sine"}));
  r.add(elementwise<Cos>({.name = "cos", .vjp = unary_vjp<cos_grad>, .cost = flops<1>, .doc = "cosine"}));
  r.add(elementwise<Tan>({.name = "tan", .vjp = unary_vjp<tan_grad>, .cost = flops<1>, .doc = "tangent"}));
  r.add(elementwise<Asin>({.name = "asin", .vjp = unary_vjp<asin_grad>, .cost = flops<1>, .doc = "arcsine"}));
  r.add(elementwise<Acos>({.name = "acos", .vjp = unary_vjp<acos_grad>, .cost = flops<1>, .doc = "arccosine"}));
  r.add(elementwise<Atan>({.name = "atan", .vjp = unary_vjp<atan_grad>, .cost = flops<1>, .doc = "arctangent"}));
  r.add(elementwise<Sinh>({.name = "sinh", .vjp = unary_vjp<sinh_grad>, .cost = flops<1>, .doc = "hyperbolic sine"}));
  r.add(elementwise<Cosh>({.name = "cosh", .vjp = unary_vjp<cosh_grad>, .cost = flops<1>, .doc = "hyperbolic cosine"}));
  r.add(elementwise<Asinh>(
      {.name = "asinh", .vjp = unary_vjp<asinh_grad>, .cost = flops<1>, .doc = "inverse hyperbolic sine"}));
  r.add(elementwise<Acosh>(
      {.name = "acosh", .vjp = unary_vjp<acosh_grad>, .cost = flops<1>, .doc = "inverse hyperbolic cosine"}));
  r.add(elementwise<Atanh>(
      {.name = "atanh", .vjp = unary_vjp<atanh_grad>, .cost = flops<1>, .doc = "inverse hyperbolic tangent"}));
  r.add(elementwise<Floor>({.name = "floor", .cost = flops<1>, .doc = "largest integer <= x; no gradient"}));
  r.add(elementwise<Ceil>({.name = "ceil", .cost = flops<1>, .doc = "smallest integer >= x; no gradient"}));
  r.add(elementwise<Round>({.name = "round", .cost = flops<1>, .doc = "nearest integer, halves to even; no gradient"}));

  // Binary, NumPy broadcasting.
  r.add(elementwise<Add>({.name = "add",
                          .flags = kEpilogue,
                          .vjp = binary_vjp<add_grad>,
                          .cost = flops<1>,
                          .doc = "a + b (broadcasting)"}));
  r.add(elementwise<Sub>({.name = "sub", .vjp = binary_vjp<sub_grad>, .cost = flops<1>, .doc = "a - b (broadcasting)"}));
  r.add(elementwise<Mul>({.name = "mul", .vjp = binary_vjp<mul_grad>, .cost = flops<1>, .doc = "a * b (broadcasting)"}));
  r.add(elementwise<Div>({.name = "div", .vjp = binary_vjp<div_grad>, .cost = flops<1>, .doc = "a / b (broadcasting)"}));
  r.add(elementwise<PowTensor>({.name = "pow_tensor",
                                .vjp = binary_vjp<pow_tensor_grad>,
                                .cost = flops<1>,
                                .doc = "a ^ b elementwise (broadcasting)"}));
  r.add(elementwise<Fmod>({.name = "fmod",
                           .vjp = binary_vjp<fmod_grad>,
                           .cost = flops<1>,
                           .doc = "a - trunc(a / b) * b, the sign of a (broadcasting)"}));
  r.add(elementwise<Maximum>(
      {.name = "maximum", .vjp = binary_vjp<maximum_grad>, .cost = flops<1>, .doc = "max(a, b) (broadcasting)"}));
  r.add(elementwise<Minimum>(
      {.name = "minimum", .vjp = binary_vjp<minimum_grad>, .cost = flops<1>, .doc = "min(a, b) (broadcasting)"}));
  r.add(elementwise<GreaterEqual>(
      {.name = "greater_equal", .cost = flops<1>, .doc = "1 where a >= b else 0, in the inputs' dtype; no gradient"}));

  // Gradient helpers of the activations: (grad, x) -> grad * f'(x).
  // Fusible into the GEMM or pooling gradient producing their gradient input.
  r.add(elementwise<ReluBackward>({.name = "relu_backward",
                                   .flags = kEpilogue,
                                   .vjp = relu_backward_vjp,
                                   .cost = flops<1>,
                                   .nondiff_inputs = {1},
                                   .sign_only_inputs = {1},
                                   .doc = "grad * (x > 0): the gradient of relu"}));
  r.add(elementwise<LeakyReluBackward, SlopeParams>({.name = "leaky_relu_backward",
                                                     .flags = kEpilogue,
                                                     .vjp = leaky_relu_backward_vjp,
                                                     .cost = flops<2>,
                                                     .nondiff_inputs = {1},
                                                     .sign_only_inputs = {1},
                                                     .doc = "grad where x > 0, else negative_slope * grad"}));
  // Fusible into the GEMM producing its gradient input (linear2's dX in a transformer).
  r.add(elementwise<GeluBackward>({.name = "gelu_backward",
                                   .flags = kEpilogue,
                                   .vjp = gelu_backward_vjp,
                                   .cost = flops<9>,
                                   .doc = "grad * gelu'(x): the gradient of gelu"}));
}

// ---- builders ----

Value relu(Value x, const std::source_location& loc) { return apply("relu", {x}, {}, loc); }
Value leaky_relu(Value x, double negative_slope, const std::source_location& loc) {
  return apply("leaky_relu", {x}, encode_params(SlopeParams{negative_slope}), loc);
}
Value sigmoid(Value x, const std::source_location& loc) { return apply("sigmoid", {x}, {}, loc); }
Value tanh(Value x, const std::source_location& loc) { return apply("tanh", {x}, {}, loc); }
Value gelu(Value x, const std::source_location& loc) { return apply("gelu", {x}, {}, loc); }
Value silu(Value x, const std::source_location& loc) { return apply("silu", {x}, {}, loc); }
Value hardswish(Value x, const std::source_location& loc) { return apply("hardswish", {x}, {}, loc); }
Value softplus(Value x, double beta, double threshold, const std::source_location& loc) {
  return apply("softplus", {x}, encode_params(SoftplusParams{beta, threshold}), loc);
}
Value erf(Value x, const std::source_location& loc) { return apply("erf", {x}, {}, loc); }
Value exp(Value x, const std::source_location& loc) { return apply("exp", {x}, {}, loc); }
Value log(Value x, const std::source_location& loc) { return apply("log", {x}, {}, loc); }
Value sqrt(Value x, const std::source_location& loc) { return apply("sqrt", {x}, {}, loc); }
Value neg(Value x, const std::source_location& loc) { return apply("neg", {x}, {}, loc); }
Value abs(Value x, const std::source_location& loc) { return apply("abs", {x}, {}, loc); }
Value pow(Value x, double exponent, const std::source_location& loc) {
  return apply("pow", {x}, encode_params(ExponentParams{exponent}), loc);
}
Value sign(Value x, const std::source_location& loc) { return apply("sign", {x}, {}, loc); }

Value sin(Value x, const std::source_location& loc) { return apply("sin", {x}, {}, loc); }
Value cos(Value x, const std::source_location& loc) { return apply("cos", {x}, {}, loc); }
Value tan(Value x, const std::source_location& loc) { return apply("tan", {x}, {}, loc); }
Value asin(Value x, const std::source_location& loc) { return apply("asin", {x}, {}, loc); }
Value acos(Value x, const std::source_location& loc) { return apply("acos", {x}, {}, loc); }
Value atan(Value x, const std::source_location& loc) { return apply("atan", {x}, {}, loc); }
Value sinh(Value x, const std::source_location& loc) { return apply("sinh", {x}, {}, loc); }
Value cosh(Value x, const std::source_location& loc) { return apply("cosh", {x}, {}, loc); }
Value asinh(Value x, const std::source_location& loc) { return apply("asinh", {x}, {}, loc); }
Value acosh(Value x, const std::source_location& loc) { return apply("acosh", {x}, {}, loc); }
Value atanh(Value x, const std::source_location& loc) { return apply("atanh", {x}, {}, loc); }
Value floor(Value x, const std::source_location& loc) { return apply("floor", {x}, {}, loc); }
Value ceil(Value x, const std::source_location& loc) { return apply("ceil", {x}, {}, loc); }
Value round(Value x, const std::source_location& loc) { return apply("round", {x}, {}, loc); }

Value add(Value a, Value b, const std::source_location& loc) { return apply("add", {a, b}, {}, loc); }
Value sub(Value a, Value b, const std::source_location& loc) { return apply("sub", {a, b}, {}, loc); }
Value mul(Value a, Value b, const std::source_location& loc) { return apply("mul", {a, b}, {}, loc); }
Value div(Value a, Value b, const std::source_location& loc) { return apply("div", {a, b}, {}, loc); }
Value pow(Value a, Value b, const std::source_location& loc) { return apply("pow_tensor", {a, b}, {}, loc); }
Value fmod(Value a, Value b, const std::source_location& loc) { return apply("fmod", {a, b}, {}, loc); }
Value maximum(Value a, Value b, const std::source_location& loc) { return apply("maximum", {a, b}, {}, loc); }
Value minimum(Value a, Value b, const std::source_location& loc) { return apply("minimum", {a, b}, {}, loc); }
Value greater_equal(Value a, Value b, const std::source_location& loc) {
  return apply("greater_equal", {a, b}, {}, loc);
}
Value relu_backward(Value grad, Value x, const std::source_location& loc) {
  return apply("relu_backward", {grad, x}, {}, loc);
}
Value leaky_relu_backward(Value grad, Value x, double negative_slope, const std::source_location& loc) {
  return apply("leaky_relu_backward", {grad, x}, encode_params(SlopeParams{negative_slope}), loc);
}
Value gelu_backward(Value grad, Value x, const std::source_location& loc) {
  return apply("gelu_backward", {grad, x}, {}, loc);
}

// ---- operators; a double becomes a scalar [] constant of the other side's dtype ----

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
