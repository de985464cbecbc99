// ONNX elementwise ops: arithmetic with NumPy broadcasting, activations and math, most
// of them one dagrad op, the rest short compositions of dagrad ops.
#include <onnx/onnx_pb.h>

#include <limits>

#include "frontend/onnx/translate.h"
#include "ops/ops.h"

namespace dagrad::onnx {

DType arithmetic_dtype(DType t) {
  if (is_floating(t)) return t;
  return is_float(t) ? DType::f32 : DType::f64;
}

Value as_dtype(Value v, DType t) { return v.dtype() == t ? v : cast(v, t); }

namespace {

Value scalar(NodeContext& c, const Value& like, double v) { return full(c.graph(), Shape{}, v, like.dtype()); }

// Before opset 7, broadcasting was opt-in (broadcast/axis attributes); only the cases
// that mean the same as NumPy's are accepted.
void check_legacy_broadcast(NodeContext& c) {
  if (c.opset() >= 7 || !c.attr_int("broadcast", 0)) return;
  if (c.has_attr("axis") && c.attr_int("axis", -1) != static_cast<int64_t>(c.shape(0).rank() - c.shape(1).rank()))
    c.unsupported("legacy broadcasting along an inner axis");
}

using Binary = Value (*)(Value, Value, const std::source_location&);
using Unary = Value (*)(Value, const std::source_location&);

// Input i in the dtype arithmetic on input 0 computes in.
Value operand(NodeContext& c, size_t i) { return as_dtype(c.input(i), arithmetic_dtype(c.dtype(0))); }

// f over the inputs in their arithmetic dtype, cast back to input 0's dtype (integer
// division truncates toward zero, as the cast does).
template <Binary F>
Outputs binary(NodeContext& c) {
  check_legacy_broadcast(c);
  return one(as_dtype(F(operand(c, 0), operand(c, 1), std::source_location::current()), c.dtype(0)));
}

template <Unary F>
Outputs unary(NodeContext& c) {
  c.accept_attrs({"consumed_inputs"});
  return one(as_dtype(F(operand(c, 0), std::source_location::current()), c.dtype(0)));
}

// Max, Min, Sum, Mean of any number of inputs, folded left to right.
template <Binary F>
Value fold(NodeContext& c) {
  Value acc = operand(c, 0);
  for (size_t i = 1; i < c.num_inputs(); ++i) acc = F(acc, operand(c, i), std::source_location::current());
  return acc;
}
template <Binary F>
Outputs variadic(NodeContext& c) {
  return one(as_dtype(fold<F>(c), c.dtype(0)));
}
Outputs mean_of(NodeContext& c) {
  Value s = fold<add>(c);
  return one(as_dtype(s / static_cast<double>(c.num_inputs()), c.dtype(0)));
}

// ---- comparisons and logic: bool results, computed as 0/1 in the arithmetic dtype ----

Value ge(Value a, Value b) { return greater_equal(a, b); }
Value equal_(Value a, Value b) { return greater_equal(a, b) * greater_equal(b, a); }
Value greater_(Value a, Value b) { return 1.0 - greater_equal(b, a); }
Value less_(Value a, Value b) { return 1.0 - greater_equal(a, b); }
Value less_equal_(Value a, Value b) { return greater_equal(b, a); }
Value and_(Value a, Value b) { return a * b; }
Value or_(Value a, Value b) { return maximum(a, b); }
Value xor_(Value a, Value b) { return abs(a - b); }

template <Value (*F)(Value, Value)>
Outputs compare(NodeContext& c) {
  check_legacy_broadcast(c);
  // Both sides in one arithmetic dtype (ONNX requires equal input types).
  const DType t = arithmetic_dtype(c.dtype(0));
  return one(cast(F(as_dtype(c.input(0), t), as_dtype(c.input(1), t)), DType::boolean));
}

Outputs not_(NodeContext& c) { return one(cast(1.0 - as_dtype(c.input(0), DType::f32), DType::boolean)); }

// Where(cond, x, y) = y + cond·(x - y) in the arithmetic dtype: exact for finite values
// (an infinity or NaN in the branch not taken would leak into the result).
Outputs where_(NodeContext& c) {
  const DType out = c.dtype(1), t = arithmetic_dtype(out);
  Value cond = as_dtype(c.input(0), t), x = as_dtype(c.input(1), t), y = as_dtype(c.input(2), t);
  return one(as_dtype(cond * x + (1.0 - cond) * y, out));
}

Outputs is_nan(NodeContext& c) {
  Value x = as_dtype(c.input(0), arithmetic_dtype(c.dtype(0)));
  return one(cast(1.0 - greater_equal(x, x), DType::boolean));
}

Outputs is_inf(NodeContext& c) {
  c.accept_attrs({"detect_negative", "detect_positive"});
  Value x = as_dtype(c.input(0), arithmetic_dtype(c.dtype(0)));
  const double inf = std::numeric_limits<double>::infinity();
  Value hit = zeros_like(x);
  if (c.attr_int("detect_positive", 1)) hit = hit + greater_equal(x, full(c.graph(), Shape{}, inf, x.dtype()));
  if (c.attr_int("detect_negative", 1)) hit = hit + greater_equal(full(c.graph(), Shape{}, -inf, x.dtype()), x);
  return one(cast(hit, DType::boolean));
}

Outputs cast_like(NodeContext& c) {
  if (c.is_known(0)) return known(c.known(0, "input").to_dtype(c.dtype(1)));
  return one(as_dtype(c.input(0), c.dtype(1)));
}

Outputs identity(NodeContext& c) {
  if (c.is_known(0)) return known(c.known(0, "input"));
  return one(c.input(0));
}

Outputs leaky_relu_(NodeContext& c) { return one(leaky_relu(c.input(0), c.attr_float("alpha", 0.01))); }

// min(x, 0) written with relu, so the composition stays differentiable everywhere else.
Value negative_part(Value x) { return -relu(-x); }

Outputs elu(NodeContext& c) {
  const double alpha = c.attr_float("alpha", 1.0);
  Value x = c.input(0);
  return one(relu(x) + (exp(negative_part(x)) - 1.0) * alpha);
}

Outputs selu(NodeContext& c) {
  const double alpha = c.attr_float("alpha", 1.67326319217681884765625);
  const double gamma = c.attr_float("gamma", 1.05070102214813232421875);
  Value x = c.input(0);
  return one((relu(x) + (exp(negative_part(x)) - 1.0) * alpha) * gamma);
}

Outputs celu(NodeContext& c) {
  const double alpha = c.attr_float("alpha", 1.0);
  Value x = c.input(0);
  return one(relu(x) + (exp(negative_part(x) / alpha) - 1.0) * alpha);
}

Outputs hard_sigmoid(NodeContext& c) {
  const double alpha = c.attr_float("alpha", 0.2), beta = c.attr_float("beta", 0.5);
  Value x = c.input(0);
  Value y = x * alpha + beta;
  return one(minimum(maximum(y, scalar(c, x, 0.0)), scalar(c, x, 1.0)));
}

Outputs softsign(NodeContext& c) {
  Value x = c.input(0);
  return one(x / (abs(x) + 1.0));
}

Outputs softplus_(NodeContext& c) { return one(softplus(c.input(0))); }

Outputs reciprocal(NodeContext& c) {
  Value x = c.input(0);
  return one(1.0 / x);
}

// x^y: a scalar exponent known at import time is dagrad's pow; otherwise pow_tensor,
// with the exponent in the base's dtype (ONNX allows them to differ).
Outputs pow_(NodeContext& c) {
  Value x = operand(c, 0);
  if (c.has_value(1) && c.known(1, "exponent").numel() == 1)
    return one(as_dtype(pow(x, c.known_doubles(1, "exponent")[0]), c.dtype(0)));
  return one(as_dtype(pow(x, operand(c, 1)), c.dtype(0)));
}

// Mod: fmod = 1 is C's fmod (the only form ONNX allows for floats); fmod = 0 takes the
// divisor's sign (Python's %): a - floor(a / b)·b.
Outputs mod(NodeContext& c) {
  c.accept_attrs({"fmod"});
  if (c.attr_int("fmod", 0)) return one(as_dtype(fmod(operand(c, 0), operand(c, 1)), c.dtype(0)));
  if (is_float(c.dtype(0))) c.invalid("fmod = 0 on floating-point inputs (ONNX requires fmod = 1 for them)");
  Value a = operand(c, 0), b = operand(c, 1);
  return one(as_dtype(a - floor(a / b) * b, c.dtype(0)));
}

// Clip: bounds as attributes (before opset 11) or optional inputs.
Outputs clip(NodeContext& c) {
  Value x = operand(c, 0);
  Value lo, hi;
  if (c.opset() < 11) {
    if (c.has_attr("min")) lo = scalar(c, x, c.attr_float("min", 0));
    if (c.has_attr("max")) hi = scalar(c, x, c.attr_float("max", 0));
  } else {
    if (c.has_input(1)) lo = operand(c, 1);
    if (c.has_input(2)) hi = operand(c, 2);
  }
  if (lo.valid()) x = maximum(x, lo);
  if (hi.valid()) x = minimum(x, hi);
  return one(as_dtype(x, c.dtype(0)));
}

Outputs prelu(NodeContext& c) {
  Value x = c.input(0), slope = c.input(1);
  return one(relu(x) + slope * negative_part(x));
}

Outputs thresholded_relu(NodeContext& c) {
  Value x = c.input(0);
  const double alpha = c.attr_float("alpha", 1.0);
  // x where x > alpha: 1 - [alpha >= x]
  return one(x * (1.0 - greater_equal(scalar(c, x, alpha), x)));
}

// x + bias below -lambd, x - bias above lambd, 0 between.
Outputs shrink(NodeContext& c) {
  Value x = c.input(0);
  const double lambd = c.attr_float("lambd", 0.5), bias = c.attr_float("bias", 0.0);
  Value below = greater_equal(scalar(c, x, -lambd), x), above = greater_equal(x, scalar(c, x, lambd));
  return one(below * (x + bias) + above * (x - bias));
}

const Translator kTranslators[] = {
    {"Add", 1, binary<add>},
    {"Sub", 1, binary<sub>},
    {"Mul", 1, binary<mul>},
    {"Div", 1, binary<div>},
    {"Max", 1, variadic<maximum>},
    {"Min", 1, variadic<minimum>},
    {"Sum", 1, variadic<add>},
    {"Mean", 1, mean_of},
    {"Relu", 1, unary<relu>},
    {"Sigmoid", 1, unary<sigmoid>},
    {"Tanh", 1, unary<tanh>},
    {"Exp", 1, unary<exp>},
    {"Log", 1, unary<log>},
    {"Sqrt", 1, unary<sqrt>},
    {"Neg", 1, unary<neg>},
    {"Abs", 1, unary<abs>},
    {"Sign", 9, unary<sign>},
    {"Erf", 9, unary<erf>},
    {"Sin", 7, unary<sin>},
    {"Cos", 7, unary<cos>},
    {"Tan", 7, unary<tan>},
    {"Asin", 7, unary<asin>},
    {"Acos", 7, unary<acos>},
    {"Atan", 7, unary<atan>},
    {"Sinh", 9, unary<sinh>},
    {"Cosh", 9, unary<cosh>},
    {"Asinh", 9, unary<asinh>},
    {"Acosh", 9, unary<acosh>},
    {"Atanh", 9, unary<atanh>},
    {"Floor", 1, unary<floor>},
    {"Ceil", 1, unary<ceil>},
    {"Round", 11, unary<round>},
    {"HardSwish", 14, unary<hardswish>},
    {"Identity", 1, identity},
    {"LeakyRelu", 1, leaky_relu_},
    {"Elu", 1, elu},
    {"Selu", 1, selu},
    {"Celu", 12, celu},
    {"HardSigmoid", 1, hard_sigmoid},
    {"Softsign", 1, softsign},
    {"Softplus", 1, softplus_},
    {"Reciprocal", 1, reciprocal},
    {"Pow", 1, pow_},
    {"Mod", 10, mod},
    {"Equal", 1, compare<equal_>},
    {"Greater", 1, compare<greater_>},
    {"Less", 1, compare<less_>},
    {"GreaterOrEqual", 12, compare<ge>},
    {"LessOrEqual", 12, compare<less_equal_>},
    {"And", 1, compare<and_>},
    {"Or", 1, compare<or_>},
    {"Xor", 1, compare<xor_>},
    {"Not", 1, not_},
    {"Where", 9, where_},
    {"IsNaN", 9, is_nan},
    {"IsInf", 10, is_inf},
    {"CastLike", 15, cast_like},
    {"Clip", 1, clip},
    {"PRelu", 1, prelu},
    {"ThresholdedRelu", 10, thresholded_relu},
    {"Shrink", 9, shrink},
};

}  // namespace

std::span<const Translator> elementwise_translators() { return kTranslators; }

}  // namespace dagrad::onnx
