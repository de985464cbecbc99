// Per-element math of the elementwise ops, single-source for every backend: the CPU
// kernels instantiate these functors, and the CUDA backend passes this file's text
// verbatim to NVRTC as the prelude of its generated fused kernels, which call
// `dagrad::<Functor><T>{params...}(a, b)` (ElementwiseDef::functor in ops/op_def.h).
//
// So this header must stay self-contained: no project includes, host headers only
// outside NVRTC, and math only through the dagrad::math helpers below, which map to
// std:: on the host and to the CUDA math library (expf / exp) on the device.
#pragma once

#ifndef __CUDACC_RTC__
#include <cmath>
#endif

// Same definition as runtime/hostdev.h (which this header must not include).
#ifndef DAGRAD_HD
#if defined(__CUDACC__)
#define DAGRAD_HD __host__ __device__ __forceinline__
#else
#define DAGRAD_HD inline
#endif
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
DAGRAD_MATH_UNARY(erf, erf)
DAGRAD_MATH_UNARY(abs, fabs)
#undef DAGRAD_MATH_UNARY

#if defined(__CUDACC__)
DAGRAD_HD float pow(float x, float y) { return ::powf(x, y); }
DAGRAD_HD double pow(double x, double y) { return ::pow(x, y); }
#else
DAGRAD_HD float pow(float x, float y) { return std::pow(x, y); }
DAGRAD_HD double pow(double x, double y) { return std::pow(x, y); }
#endif

constexpr double kSqrtHalf = 0.70710678118654752440;    // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2*pi)

}  // namespace math

// ---- unary: T operator()(T x) ----

template <class T>
struct Relu {
  DAGRAD_HD T operator()(T x) const { return x > T(0) ? x : T(0); }
};

template <class T>
struct LeakyRelu {
  T slope;
  DAGRAD_HD T operator()(T x) const { return x > T(0) ? x : slope * x; }
};

template <class T>
struct Sigmoid {
  // exp of a non-positive argument only, so neither tail overflows.
  DAGRAD_HD T operator()(T x) const {
    T e = math::exp(-math::abs(x));
    T r = T(1) / (T(1) + e);
    return x >= T(0) ? r : e * r;
  }
};

template <class T>
struct Tanh {
  DAGRAD_HD T operator()(T x) const { return math::tanh(x); }
};

// Exact GELU: x * Phi(x), Phi the standard normal CDF.
template <class T>
struct Gelu {
  DAGRAD_HD T operator()(T x) const { return T(0.5) * x * (T(1) + math::erf(x * T(math::kSqrtHalf))); }
};

template <class T>
struct Exp {
  DAGRAD_HD T operator()(T x) const { return math::exp(x); }
};

template <class T>
struct Log {
  DAGRAD_HD T operator()(T x) const { return math::log(x); }
};

template <class T>
struct Sqrt {
  DAGRAD_HD T operator()(T x) const { return math::sqrt(x); }
};

template <class T>
struct Neg {
  DAGRAD_HD T operator()(T x) const { return -x; }
};

template <class T>
struct Abs {
  DAGRAD_HD T operator()(T x) const { return math::abs(x); }
};

template <class T>
struct Pow {
  T exponent;
  DAGRAD_HD T operator()(T x) const { return math::pow(x, exponent); }
};

template <class T>
struct Sign {
  DAGRAD_HD T operator()(T x) const { return T((x > T(0)) - (x < T(0))); }
};

// ---- binary: T operator()(T a, T b) ----

template <class T>
struct Add {
  DAGRAD_HD T operator()(T a, T b) const { return a + b; }
};

template <class T>
struct Sub {
  DAGRAD_HD T operator()(T a, T b) const { return a - b; }
};

template <class T>
struct Mul {
  DAGRAD_HD T operator()(T a, T b) const { return a * b; }
};

template <class T>
struct Div {
  DAGRAD_HD T operator()(T a, T b) const { return a / b; }
};

// Ties pick a, matching the vjp, which routes the gradient by a >= b.
template <class T>
struct Maximum {
  DAGRAD_HD T operator()(T a, T b) const { return a >= b ? a : b; }
};

template <class T>
struct GreaterEqual {
  DAGRAD_HD T operator()(T a, T b) const { return a >= b ? T(1) : T(0); }
};

// ---- gradient helpers: (grad, x) -> grad * f'(x) ----

template <class T>
struct ReluBackward {
  DAGRAD_HD T operator()(T g, T x) const { return x > T(0) ? g : T(0); }
};

template <class T>
struct LeakyReluBackward {
  T slope;
  DAGRAD_HD T operator()(T g, T x) const { return x > T(0) ? g : slope * g; }
};

// gelu'(x) = Phi(x) + x * phi(x), phi the standard normal density.
template <class T>
struct GeluBackward {
  DAGRAD_HD T operator()(T g, T x) const {
    T cdf = T(0.5) * (T(1) + math::erf(x * T(math::kSqrtHalf)));
    T pdf = T(math::kInvSqrt2Pi) * math::exp(T(-0.5) * x * x);
    return g * (cdf + x * pdf);
  }
};

}  // namespace dagrad
