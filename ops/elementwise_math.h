// Per-element math of the elementwise ops, single-source for every backend: each op's
// functor is declared here once, with its name (kName); elementwise_form<F>()
// (ops/elementwise_form.h) derives the CPU's tile functions from it, and the CUDA
// backend passes this file's text verbatim to NVRTC as the prelude of its generated
// kernels, which call `dagrad::<kName><T>{params...}(a, b)`. A functor's scalar members
// are the double fields of its op's parameter struct, in order.
//
// So this header must stay self-contained: no project include but runtime/hostdev.h
// (whose text NVRTC is given first), host headers only outside NVRTC, and math only through the dagrad::math helpers below, which map to
// std:: on the host and to the CUDA math library (expf / exp) on the device.
#pragma once

#ifndef __CUDACC_RTC__
#include <cmath>

#include "runtime/hostdev.h"  // NVRTC is given its text first
#endif
#if !defined(__CUDACC__)
#include <bit>
#include <cstdint>
#endif

namespace dagrad {
namespace math {

// float and double overloads, so a functor's T picks the right precision everywhere.
#if defined(__CUDACC__)
#define DAGRAD_MATH_UNARY(name, cname)                    \
  DAGRAD_HD float name(float x) { return ::cname##f(x); } \
  DAGRAD_HD double name(double x) { return ::cname(x); }
#else
#define DAGRAD_MATH_UNARY(name, cname)                    \
  DAGRAD_HD float name(float x) { return std::cname(x); } \
  DAGRAD_HD double name(double x) { return std::cname(x); }
#endif

DAGRAD_MATH_UNARY(exp, exp)
DAGRAD_MATH_UNARY(log, log)
DAGRAD_MATH_UNARY(sqrt, sqrt)
DAGRAD_MATH_UNARY(tanh, tanh)
DAGRAD_MATH_UNARY(abs, fabs)
DAGRAD_MATH_UNARY(log1p, log1p)
DAGRAD_MATH_UNARY(sin, sin)
DAGRAD_MATH_UNARY(cos, cos)
DAGRAD_MATH_UNARY(tan, tan)
DAGRAD_MATH_UNARY(asin, asin)
DAGRAD_MATH_UNARY(acos, acos)
DAGRAD_MATH_UNARY(atan, atan)
DAGRAD_MATH_UNARY(sinh, sinh)
DAGRAD_MATH_UNARY(cosh, cosh)
DAGRAD_MATH_UNARY(asinh, asinh)
DAGRAD_MATH_UNARY(acosh, acosh)
DAGRAD_MATH_UNARY(atanh, atanh)
DAGRAD_MATH_UNARY(floor, floor)
DAGRAD_MATH_UNARY(ceil, ceil)
DAGRAD_MATH_UNARY(rint, rint)
#undef DAGRAD_MATH_UNARY

#if defined(__CUDACC__)
DAGRAD_HD float pow(float x, float y) { return ::powf(x, y); }
DAGRAD_HD double pow(double x, double y) { return ::pow(x, y); }
DAGRAD_HD float fmod(float x, float y) { return ::fmodf(x, y); }
DAGRAD_HD double fmod(double x, double y) { return ::fmod(x, y); }
#else
DAGRAD_HD float pow(float x, float y) { return std::pow(x, y); }
DAGRAD_HD double pow(double x, double y) { return std::pow(x, y); }
DAGRAD_HD float fmod(float x, float y) { return std::fmod(x, y); }
DAGRAD_HD double fmod(double x, double y) { return std::fmod(x, y); }
#endif

#if !defined(__CUDACC__)
// float e^x and erf(x) on the host without a library call, so that loops over them
// vectorise (GELU, its gradient, the attention softmax); double keeps std::.
namespace detail {

// x = k·ln2 + r with |r| <= ln2/2 (Cody-Waite), e^r by Cephes' degree-6 polynomial, 2^k
// from exponent bits in two halves (k reaches 128). Relative error < 1e-7 over
// [-87.3, 88.7] (checked against double exp on 4M points); below -87.33 it flushes to 0
// instead of a denormal, above 88.72 it is inf, NaN stays NaN. Branch-free.
inline float exp_poly(float x) {
  const float xc = x < -87.33f ? -87.33f : (x > 88.72f ? 88.72f : x);
  const float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (xc - k * 0.693359375f) - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const int32_t ki = static_cast<int32_t>(k), k1 = ki >> 1, k2 = ki - k1;
  const float y = er * std::bit_cast<float>((k1 + 127) << 23) * std::bit_cast<float>((k2 + 127) << 23);
  const float big = x > 88.72f ? __builtin_inff() : y;
  return x != x ? x : (x < -87.33f ? 0.0f : big);
}

// erf(x) = x·P(x²)/Q(x²) on [-4, 4] (±1 beyond in float), the rational form of Eigen's
// and XLA's float erf. Absolute error < 4.5e-7 (checked against std::erf on 2M points).
inline float erf_rational(float x) {
  const float xc = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
  const float x2 = xc * xc;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return xc * p / q;
}

}  // namespace detail
#endif

// As DAGRAD_MATH_UNARY, with float on the host computed by `host_float` instead, a
// form the host compiler vectorises.
#if defined(__CUDACC__)
#define DAGRAD_MATH_UNARY_HOST_FLOAT(name, cname, host_float) \
  DAGRAD_HD float name(float x) { return ::cname##f(x); }     \
  DAGRAD_HD double name(double x) { return ::cname(x); }
#else
#define DAGRAD_MATH_UNARY_HOST_FLOAT(name, cname, host_float) \
  DAGRAD_HD float name(float x) { return host_float(x); }     \
  DAGRAD_HD double name(double x) { return std::cname(x); }
#endif

// erf; float on the host as detail::erf_rational.
DAGRAD_MATH_UNARY_HOST_FLOAT(erf, erf, detail::erf_rational)

// e^x for the ops whose loops must vectorise (GELU's gradient, attention): float on the
// host as detail::exp_poly, otherwise as exp. (exp itself stays std::exp, so the
// existing models' results do not move by an ulp.)
DAGRAD_MATH_UNARY_HOST_FLOAT(vexp, exp, detail::exp_poly)
#undef DAGRAD_MATH_UNARY_HOST_FLOAT

constexpr double kSqrtHalf = 0.70710678118654752440;    // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2*pi)
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;  // 2/sqrt(pi), erf'(0)

}  // namespace math

// ---- unary: T operator()(T x) ----

template <class T>
struct Relu {
  static constexpr const char* kName = "Relu";
  DAGRAD_HD T operator()(T x) const { return x > T(0) ? x : T(0); }
};

template <class T>
struct LeakyRelu {
  static constexpr const char* kName = "LeakyRelu";
  T slope;
  DAGRAD_HD T operator()(T x) const { return x > T(0) ? x : slope * x; }
};

template <class T>
struct Sigmoid {
  static constexpr const char* kName = "Sigmoid";
  // exp of a non-positive argument only, so neither tail overflows.
  DAGRAD_HD T operator()(T x) const {
    T e = math::exp(-math::abs(x));
    T r = T(1) / (T(1) + e);
    return x >= T(0) ? r : e * r;
  }
};

template <class T>
struct Tanh {
  static constexpr const char* kName = "Tanh";
  DAGRAD_HD T operator()(T x) const { return math::tanh(x); }
};

// Exact GELU: x * Phi(x), Phi the standard normal CDF.
template <class T>
struct Gelu {
  static constexpr const char* kName = "Gelu";
  DAGRAD_HD T operator()(T x) const { return T(0.5) * x * (T(1) + math::erf(x * T(math::kSqrtHalf))); }
};

// The Gauss error function (ONNX Erf; GELU's building block).
template <class T>
struct Erf {
  static constexpr const char* kName = "Erf";
  DAGRAD_HD T operator()(T x) const { return math::erf(x); }
};

template <class T>
struct Exp {
  static constexpr const char* kName = "Exp";
  DAGRAD_HD T operator()(T x) const { return math::exp(x); }
};

template <class T>
struct Log {
  static constexpr const char* kName = "Log";
  DAGRAD_HD T operator()(T x) const { return math::log(x); }
};

template <class T>
struct Sqrt {
  static constexpr const char* kName = "Sqrt";
  DAGRAD_HD T operator()(T x) const { return math::sqrt(x); }
};

template <class T>
struct Neg {
  static constexpr const char* kName = "Neg";
  DAGRAD_HD T operator()(T x) const { return -x; }
};

template <class T>
struct Abs {
  static constexpr const char* kName = "Abs";
  DAGRAD_HD T operator()(T x) const { return math::abs(x); }
};

template <class T>
struct Pow {
  static constexpr const char* kName = "Pow";
  T exponent;
  DAGRAD_HD T operator()(T x) const { return math::pow(x, exponent); }
};

template <class T>
struct Sign {
  static constexpr const char* kName = "Sign";
  DAGRAD_HD T operator()(T x) const { return T((x > T(0)) - (x < T(0))); }
};

// x * sigmoid(x) (SiLU, swish).
template <class T>
struct Silu {
  static constexpr const char* kName = "Silu";
  DAGRAD_HD T operator()(T x) const { return x * Sigmoid<T>{}(x); }
};

// x * relu6(x + 3) / 6.
template <class T>
struct HardSwish {
  static constexpr const char* kName = "HardSwish";
  DAGRAD_HD T operator()(T x) const {
    T r = x + T(3);
    r = r < T(0) ? T(0) : (r > T(6) ? T(6) : r);
    return x * r / T(6);
  }
};

// log(1 + exp(beta·x)) / beta, and x itself where beta·x > threshold (PyTorch's rule).
// exp of a non-positive argument only: log(1 + e^z) = max(z, 0) + log1p(e^-|z|).
template <class T>
struct Softplus {
  static constexpr const char* kName = "Softplus";
  T beta, threshold;
  DAGRAD_HD T operator()(T x) const {
    const T z = beta * x;
    if (z > threshold) return x;
    return ((z > T(0) ? z : T(0)) + math::log1p(math::exp(-math::abs(z)))) / beta;
  }
};

// cast between floating types of one compute type (float32, bfloat16, float16): the value
// itself; the program rounds every result to its dtype, which is all a cast does.
template <class T>
struct Cast {
  static constexpr const char* kName = "Cast";
  DAGRAD_HD T operator()(T x) const { return x; }
};

// Trigonometric, hyperbolic and rounding functions (Round: halves to even, as ONNX).
template <class T>
struct Sin {
  static constexpr const char* kName = "Sin";
  DAGRAD_HD T operator()(T x) const { return math::sin(x); }
};

template <class T>
struct Cos {
  static constexpr const char* kName = "Cos";
  DAGRAD_HD T operator()(T x) const { return math::cos(x); }
};

template <class T>
struct Tan {
  static constexpr const char* kName = "Tan";
  DAGRAD_HD T operator()(T x) const { return math::tan(x); }
};

template <class T>
struct Asin {
  static constexpr const char* kName = "Asin";
  DAGRAD_HD T operator()(T x) const { return math::asin(x); }
};

template <class T>
struct Acos {
  static constexpr const char* kName = "Acos";
  DAGRAD_HD T operator()(T x) const { return math::acos(x); }
};

template <class T>
struct Atan {
  static constexpr const char* kName = "Atan";
  DAGRAD_HD T operator()(T x) const { return math::atan(x); }
};

template <class T>
struct Sinh {
  static constexpr const char* kName = "Sinh";
  DAGRAD_HD T operator()(T x) const { return math::sinh(x); }
};

template <class T>
struct Cosh {
  static constexpr const char* kName = "Cosh";
  DAGRAD_HD T operator()(T x) const { return math::cosh(x); }
};

template <class T>
struct Asinh {
  static constexpr const char* kName = "Asinh";
  DAGRAD_HD T operator()(T x) const { return math::asinh(x); }
};

template <class T>
struct Acosh {
  static constexpr const char* kName = "Acosh";
  DAGRAD_HD T operator()(T x) const { return math::acosh(x); }
};

template <class T>
struct Atanh {
  static constexpr const char* kName = "Atanh";
  DAGRAD_HD T operator()(T x) const { return math::atanh(x); }
};

template <class T>
struct Floor {
  static constexpr const char* kName = "Floor";
  DAGRAD_HD T operator()(T x) const { return math::floor(x); }
};

template <class T>
struct Ceil {
  static constexpr const char* kName = "Ceil";
  DAGRAD_HD T operator()(T x) const { return math::ceil(x); }
};

template <class T>
struct Round {
  static constexpr const char* kName = "Round";
  DAGRAD_HD T operator()(T x) const { return math::rint(x); }
};

// ---- binary: T operator()(T a, T b) ----

template <class T>
struct Add {
  static constexpr const char* kName = "Add";
  DAGRAD_HD T operator()(T a, T b) const { return a + b; }
};

template <class T>
struct Sub {
  static constexpr const char* kName = "Sub";
  DAGRAD_HD T operator()(T a, T b) const { return a - b; }
};

template <class T>
struct Mul {
  static constexpr const char* kName = "Mul";
  DAGRAD_HD T operator()(T a, T b) const { return a * b; }
};

template <class T>
struct Div {
  static constexpr const char* kName = "Div";
  DAGRAD_HD T operator()(T a, T b) const { return a / b; }
};

template <class T>
struct PowTensor {
  static constexpr const char* kName = "PowTensor";
  DAGRAD_HD T operator()(T a, T b) const { return math::pow(a, b); }
};

// The remainder of a / b truncated toward zero, with the sign of a (C's fmod).
template <class T>
struct Fmod {
  static constexpr const char* kName = "Fmod";
  DAGRAD_HD T operator()(T a, T b) const { return math::fmod(a, b); }
};

// Ties pick a, matching the vjp, which routes the gradient by a >= b.
template <class T>
struct Maximum {
  static constexpr const char* kName = "Maximum";
  DAGRAD_HD T operator()(T a, T b) const { return a >= b ? a : b; }
};

// Ties pick a, matching the vjp, which routes the gradient by a <= b.
template <class T>
struct Minimum {
  static constexpr const char* kName = "Minimum";
  DAGRAD_HD T operator()(T a, T b) const { return a <= b ? a : b; }
};

template <class T>
struct GreaterEqual {
  static constexpr const char* kName = "GreaterEqual";
  DAGRAD_HD T operator()(T a, T b) const { return a >= b ? T(1) : T(0); }
};

// ---- gradient helpers: (grad, x) -> grad * f'(x) ----

template <class T>
struct ReluBackward {
  static constexpr const char* kName = "ReluBackward";
  DAGRAD_HD T operator()(T g, T x) const { return x > T(0) ? g : T(0); }
};

template <class T>
struct LeakyReluBackward {
  static constexpr const char* kName = "LeakyReluBackward";
  T slope;
  DAGRAD_HD T operator()(T g, T x) const { return x > T(0) ? g : slope * g; }
};

// gelu'(x) = Phi(x) + x * phi(x), phi the standard normal density.
template <class T>
struct GeluBackward {
  static constexpr const char* kName = "GeluBackward";
  DAGRAD_HD T operator()(T g, T x) const {
    T cdf = T(0.5) * (T(1) + math::erf(x * T(math::kSqrtHalf)));
    T pdf = T(math::kInvSqrt2Pi) * math::vexp(T(-0.5) * x * x);
    return g * (cdf + x * pdf);
  }
};

}  // namespace dagrad
