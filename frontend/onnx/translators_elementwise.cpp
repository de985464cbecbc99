// ONNX elementwise ops: arithmetic with NumPy broadcasting, activations and math, most
// of them one dagrad op, the rest short compositions of dagrad ops.
#include <onnx/onnx_pb.h>

#include "frontend/onnx/translate.h"
#include "ops/ops.h"

namespace dagrad::onnx {

namespace {

Value scalar(NodeContext& c, const Value& like, double v) { return full(c.graph(), Shape{}, v, like.dtype()); }

// Before opset 7, broadcasting was opt-in (broadcast/axis attributes); only the cases
// that mean the same as NumPy's are accepted.
void check_legacy_broadcast(NodeContext& c) {
  if (c.opset() >= 7 || !c.attr_int("broadcast", 0)) return;
  if (c.has_attr("axis") && c.attr_int("axis", -1) != static_cast<int64_t>(c.shape(0).rank() - c.shape(1).rank()))
    c.unsupported("legacy broadcasting along an inner axis");
}

template <Value (*F)(Value, Value, const std::source_location&)>
Outputs binary(NodeContext& c) {
  check_legacy_broadcast(c);
  return one(F(c.input(0), c.input(1), std::source_location::current()));
}

template <Value (*F)(Value, const std::source_location&)>
Outputs unary(NodeContext& c) {
  c.accept_attrs({"consumed_inputs"});
  return one(F(c.input(0), std::source_location::current()));
}

// Max, Min, Sum, Mean of any number of inputs, folded left to right.
template <Value (*F)(Value, Value, const std::source_location&)>
Value fold(NodeContext& c) {
  Value acc = c.input(0);
  for (size_t i = 1; i < c.num_inputs(); ++i) acc = F(acc, c.input(i), std::source_location::current());
  return acc;
}
template <Value (*F)(Value, Value, const std::source_location&)>
Outputs variadic(NodeContext& c) {
  return one(fold<F>(c));
}
Outputs mean_of(NodeContext& c) {
  Value s = fold<add>(c);
  return one(s / static_cast<double>(c.num_inputs()));
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
  if (c.has_value(1) && c.known(1, "exponent").numel() == 1)
    return one(pow(c.input(0), c.known_doubles(1, "exponent")[0]));
  Value x = c.input(0);
  if (c.dtype(1) == x.dtype()) return one(pow(x, c.input(1)));
  if (c.is_known(1)) return one(pow(x, constant(c.graph(), c.known(1, "exponent").to_dtype(x.dtype()))));
  c.unsupported("an exponent computed in the graph of another dtype than the base");
}

// Mod: fmod = 1 is C's fmod (the only form ONNX allows for floats); fmod = 0 takes the
// divisor's sign (Python's %): a - floor(a / b)·b.
Outputs mod(NodeContext& c) {
  c.accept_attrs({"fmod"});
  Value a = c.input(0), b = c.input(1);
  if (c.attr_int("fmod", 0)) return one(fmod(a, b));
  if (is_floating(a.dtype())) c.invalid("fmod = 0 on floating-point inputs (ONNX requires fmod = 1 for them)");
  return one(a - floor(a / b) * b);
}

// Clip: bounds as attributes (before opset 11) or optional inputs.
Outputs clip(NodeContext& c) {
  Value x = c.input(0);
  Value lo, hi;
  if (c.opset() < 11) {
    if (c.has_attr("min")) lo = scalar(c, x, c.attr_float("min", 0));
    if (c.has_attr("max")) hi = scalar(c, x, c.attr_float("max", 0));
  } else {
    if (c.has_input(1)) lo = c.input(1);
    if (c.has_input(2)) hi = c.input(2);
  }
  if (lo.valid()) x = maximum(x, lo);
  if (hi.valid()) x = minimum(x, hi);
  return one(x);
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
    {"Clip", 1, clip},
    {"PRelu", 1, prelu},
    {"ThresholdedRelu", 10, thresholded_relu},
    {"Shrink", 9, shrink},
};

}  // namespace

std::span<const Translator> elementwise_translators() { return kTranslators; }

}  // namespace dagrad::onnx
