// Reference cases of the elementwise ops: plain double-precision loops over random
// inputs in float32 and float64, with odd sizes, size-1 dims, scalars, broadcasting
// and one case per op large enough to run on several threads.
#include <algorithm>
#include <cmath>

#include "op_cases.h"
#include "runtime/shape.h"

namespace dagrad::testing {

namespace {

using UnaryRef = std::function<double(double x, const Attrs&)>;
using BinaryRef = std::function<double(double a, double b, const Attrs&)>;

struct Range {
  double lo = -1.0, hi = 1.0;
};
constexpr Range kPositive{0.5, 2.0};
constexpr DType kDtypes[] = {DType::f32, DType::f64};

// Larger than several parallel grains (16K elements) and not a multiple of 16.
constexpr int64_t kLargeDim = 60013;

// bfloat16 results are computed in float32 and rounded to 8 significant bits: within half
// a unit in the last place, 2^-9 relative, of the double-precision reference (less than
// 2^-8 measured against 1 + |want|, with float32's own error far below that).
double tol_for(DType t) { return t == DType::f64 ? 1e-12 : (t == DType::bf16 ? 1.0 / 256 : 1e-5); }

std::string label(DType t, const std::string& shapes) { return str_cat(dtype_name(t), " ", shapes); }

OpCase unary_case(const std::string& what, DType t, Tensor x, const UnaryRef& f, const Attrs& attrs) {
  OpCase c;
  c.label = label(t, what);
  c.attrs = attrs;
  c.tol = tol_for(t);
  c.inputs = {std::move(x)};
  c.reference = [f](const std::vector<Tensor>& in, const Attrs& a) {
    const Tensor& x = in[0];
    return std::vector<Tensor>{make_f64(x.shape(), [&](int64_t i) { return f(at(x, i), a); })};
  };
  return c;
}

std::vector<OpCase> unary_cases(const UnaryRef& f, const Attrs& attrs = {}, Range r = {}, uint64_t seed = 1) {
  const Shape shapes[] = {Shape{7}, Shape{3, 5}, Shape{}, Shape{1, 4, 1}, Shape{33, 17}, Shape{2, kLargeDim}};
  std::vector<OpCase> cases;
  for (DType t : kDtypes)
    for (const Shape& s : shapes) {
      OpCase c = unary_case(s.to_string(), t, random_tensor(s, t, seed++, r.lo, r.hi), f, attrs);
      // Finite differences over 120K elements would take far too long; the small
      // cases check the same gradient rule.
      c.skip_grad = s.numel() > 100000;
      cases.push_back(std::move(c));
    }
  // bfloat16 values, computed in float32 and rounded (the gradient check is float64's).
  for (const Shape& s : {Shape{7}, Shape{33, 17}, Shape{2, kLargeDim}}) {
    OpCase c = unary_case(s.to_string(), DType::bf16, random_tensor(s, DType::bf16, seed++, r.lo, r.hi), f, attrs);
    c.skip_grad = true;
    cases.push_back(std::move(c));
  }
  return cases;
}

OpCase binary_case(DType t, Tensor a, Tensor b, const BinaryRef& f, const Attrs& attrs) {
  OpCase c;
  c.label = label(t, a.shape().to_string() + " and " + b.shape().to_string());
  c.attrs = attrs;
  c.tol = tol_for(t);
  c.inputs = {std::move(a), std::move(b)};
  c.reference = [f](const std::vector<Tensor>& in, const Attrs& attrs) {
    const Tensor &a = in[0], &b = in[1];
    Shape out = broadcast_shapes(a.shape(), b.shape());
    return std::vector<Tensor>{make_f64(out, [&](int64_t i) {
      return f(at(a, broadcast_index(out, a.shape(), i)), at(b, broadcast_index(out, b.shape(), i)), attrs);
    })};
  };
  return c;
}

std::vector<OpCase> binary_cases(const BinaryRef& f, const Attrs& attrs = {}, Range ra = {}, Range rb = {},
                                 uint64_t seed = 1) {
  const std::pair<Shape, Shape> shapes[] = {
      {Shape{7}, Shape{7}},
      {Shape{3, 5}, Shape{3, 5}},
      {Shape{2, 3, 4}, Shape{3, 1}},           // rank extension and an inner broadcast
      {Shape{4, 1}, Shape{1, 5}},              // outer product
      {Shape{}, Shape{2, 2}},                  // scalar on the left
      {Shape{2, 2}, Shape{}},                  // scalar on the right
      {Shape{1}, Shape{}},                     // one element each
      {Shape{1, 3, 1}, Shape{2, 1, 5}},        // size-1 dims on both sides
      {Shape{5, 1, 33}, Shape{1, 17, 1}},      // odd sizes, alternating broadcast
      {Shape{2, 3, 4, 5}, Shape{1, 3, 1, 1}},  // bias over channels (NCHW)
      {Shape{6, 10}, Shape{10}},               // bias over features
      {Shape{2, kLargeDim}, Shape{2, kLargeDim}},
      {Shape{3, kLargeDim}, Shape{kLargeDim}},
      {Shape{2, 1}, Shape{2, kLargeDim}},  // broadcast inside long contiguous runs
  };
  std::vector<OpCase> cases;
  for (DType t : kDtypes)
    for (const auto& [sa, sb] : shapes) {
      Tensor a = random_tensor(sa, t, seed++, ra.lo, ra.hi);
      Tensor b = random_tensor(sb, t, seed++, rb.lo, rb.hi);
      OpCase c = binary_case(t, std::move(a), std::move(b), f, attrs);
      c.skip_grad = broadcast_shapes(sa, sb).numel() > 100000;
      cases.push_back(std::move(c));
    }
  const std::pair<Shape, Shape> half_shapes[] = {
      {Shape{7}, Shape{7}}, {Shape{2, 3, 4}, Shape{3, 1}}, {Shape{}, Shape{2, 2}}, {Shape{3, kLargeDim}, Shape{kLargeDim}}};
  for (const auto& [sa, sb] : half_shapes) {
    Tensor a = random_tensor(sa, DType::bf16, seed++, ra.lo, ra.hi);
    Tensor b = random_tensor(sb, DType::bf16, seed++, rb.lo, rb.hi);
    OpCase c = binary_case(DType::bf16, std::move(a), std::move(b), f, attrs);
    c.skip_grad = true;
    cases.push_back(std::move(c));
  }
  return cases;
}

Tensor values(std::vector<double> v, DType t) {
  Tensor x = Tensor::from_vector(Shape{static_cast<int64_t>(v.size())}, v);
  return t == DType::f64 ? x : x.to_dtype(t);
}

std::vector<OpCase> with_grad_inputs(std::vector<OpCase> cases, std::vector<int> grad_inputs) {
  for (OpCase& c : cases) c.grad_inputs = grad_inputs;
  return cases;
}

std::vector<OpCase> without_grad(std::vector<OpCase> cases) {
  for (OpCase& c : cases) c.skip_grad = true;
  return cases;
}

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_grad_ref(double x) {
  return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
}
double slope(const Attrs& a) { return a.get_float_or("negative_slope", 0.01); }

}  // namespace

// ---- unary ----

DAGRAD_OP_CASES("relu") {
  return unary_cases([](double x, const Attrs&) { return x > 0 ? x : 0.0; });
}

DAGRAD_OP_CASES("leaky_relu") {
  auto f = [](double x, const Attrs& a) { return x > 0 ? x : slope(a) * x; };
  auto cases = unary_cases(f, Attrs{{"negative_slope", 0.2}});
  // The default slope when the attribute is left out.
  for (DType t : kDtypes) cases.push_back(unary_case("default slope", t, random_tensor(Shape{4, 3}, t, 99), f, {}));
  return cases;
}

DAGRAD_OP_CASES("sigmoid") {
  auto f = [](double x, const Attrs&) { return sigmoid_ref(x); };
  auto cases = unary_cases(f, {}, {-4.0, 4.0});
  // Far tails: neither side may overflow to NaN.
  for (DType t : kDtypes) {
    OpCase c = unary_case("tails", t, values({-100.0, -30.0, -0.5, 0.5, 30.0, 100.0}, t), f, {});
    c.skip_grad = true;
    cases.push_back(std::move(c));
  }
  return cases;
}

DAGRAD_OP_CASES("tanh") {
  return unary_cases([](double x, const Attrs&) { return std::tanh(x); }, {}, {-3.0, 3.0});
}

DAGRAD_OP_CASES("erf") {
  return unary_cases([](double x, const Attrs&) { return std::erf(x); }, {}, {-3.0, 3.0});
}

DAGRAD_OP_CASES("gelu") {
  return unary_cases([](double x, const Attrs&) { return gelu_ref(x); }, {}, {-4.0, 4.0});
}

DAGRAD_OP_CASES("silu") {
  return unary_cases([](double x, const Attrs&) { return x * sigmoid_ref(x); }, {}, {-5.0, 5.0});
}

DAGRAD_OP_CASES("hardswish") {
  // Both kinks (-3 and 3) and the flat and linear parts are inside the range.
  return unary_cases([](double x, const Attrs&) { return x * std::clamp(x + 3.0, 0.0, 6.0) / 6.0; }, {}, {-5.0, 5.0});
}

DAGRAD_OP_CASES("softplus") {
  auto f = [](double x, const Attrs& a) {
    const double beta = a.get_float_or("beta", 1.0), threshold = a.get_float_or("threshold", 20.0);
    return beta * x > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
  };
  auto cases = unary_cases(f, {}, {-6.0, 6.0});
  // beta 2 with threshold 5: x above 2.5 takes the linear branch.
  auto more = unary_cases(f, Attrs{{"beta", 2.0}, {"threshold", 5.0}}, {-4.0, 4.0}, 50);
  for (OpCase& c : more) c.label += " beta 2 threshold 5";
  cases.insert(cases.end(), more.begin(), more.end());
  // Large negative and positive inputs: no overflow in either tail.
  for (DType t : kDtypes) {
    OpCase c = unary_case("tails", t, values({-200.0, -40.0, 15.0, 40.0, 200.0}, t), f, {});
    c.skip_grad = true;
    cases.push_back(std::move(c));
  }
  return cases;
}

DAGRAD_OP_CASES("exp") {
  return unary_cases([](double x, const Attrs&) { return std::exp(x); });
}

DAGRAD_OP_CASES("log") {
  return unary_cases([](double x, const Attrs&) { return std::log(x); }, {}, kPositive);
}

DAGRAD_OP_CASES("sqrt") {
  return unary_cases([](double x, const Attrs&) { return std::sqrt(x); }, {}, kPositive);
}

DAGRAD_OP_CASES("neg") {
  return unary_cases([](double x, const Attrs&) { return -x; });
}

DAGRAD_OP_CASES("abs") {
  return unary_cases([](double x, const Attrs&) { return std::abs(x); });
}

DAGRAD_OP_CASES("pow") {
  auto f = [](double x, const Attrs& a) { return std::pow(x, a.get_float("exponent")); };
  std::vector<OpCase> cases;
  uint64_t seed = 1;
  for (double p : {2.0, 0.5, -1.5, 3.0}) {
    auto more = unary_cases(f, Attrs{{"exponent", p}}, kPositive, seed);
    seed += 100;
    for (OpCase& c : more) c.label += str_cat(" ^", p);
    cases.insert(cases.end(), more.begin(), more.end());
  }
  // An integer exponent of negative numbers, and an Int attribute (converted).
  for (DType t : kDtypes) {
    cases.push_back(
        unary_case("negative base ^3", t, random_tensor(Shape{5, 3}, t, 77, -2.0, -0.5), f, Attrs{{"exponent", 3.0}}));
    cases.push_back(
        unary_case("int exponent ^2", t, random_tensor(Shape{9}, t, 78), f, Attrs{{"exponent", int64_t{2}}}));
  }
  return cases;
}

DAGRAD_OP_CASES("sign") {
  auto f = [](double x, const Attrs&) { return static_cast<double>((x > 0) - (x < 0)); };
  auto cases = unary_cases(f);
  for (DType t : kDtypes) cases.push_back(unary_case("with zeros", t, values({-2.0, 0.0, 3.0, -0.5, 0.0}, t), f, {}));
  return without_grad(std::move(cases));
}

// ---- trigonometric, hyperbolic, rounding ----

DAGRAD_OP_CASES("sin") { return unary_cases([](double x, const Attrs&) { return std::sin(x); }, {}, {-3.0, 3.0}); }
DAGRAD_OP_CASES("cos") { return unary_cases([](double x, const Attrs&) { return std::cos(x); }, {}, {-3.0, 3.0}); }
DAGRAD_OP_CASES("tan") { return unary_cases([](double x, const Attrs&) { return std::tan(x); }, {}, {-1.2, 1.2}); }
DAGRAD_OP_CASES("asin") { return unary_cases([](double x, const Attrs&) { return std::asin(x); }, {}, {-0.9, 0.9}); }
DAGRAD_OP_CASES("acos") { return unary_cases([](double x, const Attrs&) { return std::acos(x); }, {}, {-0.9, 0.9}); }
DAGRAD_OP_CASES("atan") { return unary_cases([](double x, const Attrs&) { return std::atan(x); }, {}, {-3.0, 3.0}); }
DAGRAD_OP_CASES("sinh") { return unary_cases([](double x, const Attrs&) { return std::sinh(x); }, {}, {-3.0, 3.0}); }
DAGRAD_OP_CASES("cosh") { return unary_cases([](double x, const Attrs&) { return std::cosh(x); }, {}, {-3.0, 3.0}); }
DAGRAD_OP_CASES("asinh") { return unary_cases([](double x, const Attrs&) { return std::asinh(x); }, {}, {-3.0, 3.0}); }
DAGRAD_OP_CASES("acosh") { return unary_cases([](double x, const Attrs&) { return std::acosh(x); }, {}, {1.2, 3.0}); }
DAGRAD_OP_CASES("atanh") { return unary_cases([](double x, const Attrs&) { return std::atanh(x); }, {}, {-0.9, 0.9}); }

static std::vector<OpCase> rounding_cases(double (*f)(double)) {
  auto ref = [f](double x, const Attrs&) { return f(x); };
  auto cases = unary_cases(ref, {}, {-4.0, 4.0});
  for (DType t : kDtypes)
    cases.push_back(unary_case("integers and halves", t, values({-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -3.0, 4.0, 0.0}, t), ref, {}));
  return without_grad(std::move(cases));
}
DAGRAD_OP_CASES("floor") { return rounding_cases([](double x) { return std::floor(x); }); }
DAGRAD_OP_CASES("ceil") { return rounding_cases([](double x) { return std::ceil(x); }); }
DAGRAD_OP_CASES("round") { return rounding_cases([](double x) { return std::nearbyint(x); }); }

// ---- binary ----

DAGRAD_OP_CASES("add") {
  return binary_cases([](double a, double b, const Attrs&) { return a + b; });
}

DAGRAD_OP_CASES("sub") {
  return binary_cases([](double a, double b, const Attrs&) { return a - b; });
}

DAGRAD_OP_CASES("mul") {
  return binary_cases([](double a, double b, const Attrs&) { return a * b; });
}

DAGRAD_OP_CASES("div") {
  auto cases = binary_cases([](double a, double b, const Attrs&) { return a / b; }, {}, {}, kPositive);
  // Negative divisors too (random_tensor keeps them away from zero).
  auto more = binary_cases([](double a, double b, const Attrs&) { return a / b; }, {}, {}, {-2.0, -0.5}, 500);
  cases.insert(cases.end(), more.begin(), more.begin() + 4);
  return cases;
}

DAGRAD_OP_CASES("pow_tensor") {
  // Positive bases: the exponent's gradient takes log(a).
  return binary_cases([](double a, double b, const Attrs&) { return std::pow(a, b); }, {}, kPositive, {-2.0, 2.0});
}

DAGRAD_OP_CASES("fmod") {
  // Divisors away from zero; quotients away from integers are likely for random inputs,
  // so finite differences do not straddle a jump.
  return binary_cases([](double a, double b, const Attrs&) { return std::fmod(a, b); }, {}, {-3.0, 3.0},
                      {0.7, 1.3}, 301);
}

DAGRAD_OP_CASES("maximum") {
  // Continuous random inputs: ties (where the gradient is not defined) do not occur.
  return binary_cases([](double a, double b, const Attrs&) { return a >= b ? a : b; });
}

DAGRAD_OP_CASES("minimum") {
  return binary_cases([](double a, double b, const Attrs&) { return a <= b ? a : b; }, {}, {}, {}, 401);
}

DAGRAD_OP_CASES("greater_equal") {
  auto f = [](double a, double b, const Attrs&) { return a >= b ? 1.0 : 0.0; };
  auto cases = binary_cases(f);
  for (DType t : kDtypes) {
    Tensor a = random_tensor(Shape{3, 4}, t, 31);
    cases.push_back(binary_case(t, a, a.clone(), f, {}));  // ties give 1
    cases.back().label += " (ties)";
  }
  return without_grad(std::move(cases));
}

// ---- gradient helpers: inputs (grad, x) ----

DAGRAD_OP_CASES("relu_backward") {
  auto cases = binary_cases([](double g, double x, const Attrs&) { return x > 0 ? g : 0.0; });
  return with_grad_inputs(std::move(cases), {0});  // d/dx is 0 away from the kink
}

DAGRAD_OP_CASES("leaky_relu_backward") {
  auto f = [](double g, double x, const Attrs& a) { return x > 0 ? g : slope(a) * g; };
  auto cases = binary_cases(f, Attrs{{"negative_slope", 0.1}});
  for (DType t : kDtypes)
    cases.push_back(binary_case(t, random_tensor(Shape{4, 3}, t, 41), random_tensor(Shape{4, 3}, t, 42), f, {}));
  return with_grad_inputs(std::move(cases), {0});
}

DAGRAD_OP_CASES("gelu_backward") {
  return binary_cases([](double g, double x, const Attrs&) { return g * gelu_grad_ref(x); }, {}, {}, {-3.0, 3.0});
}

}  // namespace dagrad::testing
