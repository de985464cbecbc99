// convert<D>(s): one element of any dtype's C++ type as any other, with the meaning the
// cast op, Tensor::to_dtype and Tensor::fill give it on every backend (host and device):
//   to a floating type   rounded to nearest even, once (a 64-bit integer too);
//   to bool              s != 0 (NaN is true);
//   float to integer     toward zero, saturated to the type's range, NaN to 0 (what
//                        CUDA's conversion instructions do; C++ leaves it undefined);
//   integer to integer   modulo 2^bits (two's complement), as C++20 defines it;
//   from bool            0 or 1.
#pragma once
#include <cstdint>
#include <type_traits>

#include "runtime/float16.h"

namespace dagrad {

template <class T>
inline constexpr bool is_half_type_v = std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>;
template <class T>
inline constexpr bool is_float_type_v = std::is_floating_point_v<T> || is_half_type_v<T>;

namespace convert_detail {

// Integer limits as constants (std::numeric_limits' functions are host-only under nvcc).
template <class I>
inline constexpr I int_max = std::is_signed_v<I> ? static_cast<I>((uint64_t{1} << (8 * sizeof(I) - 1)) - 1)
                                                 : static_cast<I>(~uint64_t{0});
template <class I>
inline constexpr I int_min = std::is_signed_v<I> ? static_cast<I>(-int_max<I> - 1) : I(0);

// A 64-bit integer as a double rounded to odd: the dropped bits stick in the lowest kept
// bit, so a second rounding to 24 or fewer bits gives the correctly rounded result.
template <class I>
DAGRAD_HD double to_double_odd(I v) {
  bool neg = false;
  if constexpr (std::is_signed_v<I>) neg = v < 0;  // (nvcc warns of v < 0 for unsigned I)
  uint64_t m = neg ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  if (m < (uint64_t{1} << 53)) return neg ? -static_cast<double>(m) : static_cast<double>(m);
  int shift = 0;
  while ((m >> shift) >= (uint64_t{1} << 53)) ++shift;
  const uint64_t sticky = (m & ((uint64_t{1} << shift) - 1)) != 0;
  const double d = static_cast<double>((m >> shift) | sticky) * static_cast<double>(uint64_t{1} << shift);
  return neg ? -d : d;
}

// Any element as double (exact for every floating type; for integers used only where
// the result is then rounded to 24 bits or fewer, or compared).
template <class S>
DAGRAD_HD double widen(S s) {
  if constexpr (is_half_type_v<S>) return static_cast<double>(static_cast<float>(s));
  else if constexpr (std::is_same_v<S, bool>) return s ? 1.0 : 0.0;
  else if constexpr (std::is_integral_v<S> && sizeof(S) == 8) return to_double_odd(s);
  else return static_cast<double>(s);
}

}  // namespace convert_detail

template <class D, class S>
DAGRAD_HD D convert(S s) {
  using convert_detail::int_max;
  using convert_detail::int_min;
  using convert_detail::widen;
  if constexpr (std::is_same_v<D, S>) {
    return s;
  } else if constexpr (std::is_same_v<D, bool>) {
    if constexpr (is_half_type_v<S>) return static_cast<float>(s) != 0.0f;
    else return s != S(0);
  } else if constexpr (std::is_same_v<S, bool>) {
    if constexpr (is_half_type_v<D>) return D(s ? 1.0f : 0.0f);
    else return static_cast<D>(s ? 1 : 0);
  } else if constexpr (is_half_type_v<D>) {
    if constexpr (std::is_same_v<S, float> || is_half_type_v<S>) return D(static_cast<float>(s));
    else return D(widen(s));  // double, or an integer (exact or rounded to odd): one rounding
  } else if constexpr (std::is_floating_point_v<D>) {
    if constexpr (is_half_type_v<S>) return static_cast<D>(static_cast<float>(s));
    else return static_cast<D>(s);  // the hardware's round-to-nearest-even conversion
  } else if constexpr (is_float_type_v<S>) {  // to an integer: truncate, saturate, NaN -> 0
    const double d = widen(s);
    if (d != d) return D(0);
    constexpr double lo = static_cast<double>(int_min<D>);
    // max + 1 is a power of two, exact in double: everything at or above it saturates.
    constexpr double hi_excl = static_cast<double>(int_max<D> / 2 + 1) * 2.0;
    if (d <= lo) return int_min<D>;
    if (d >= hi_excl) return int_max<D>;
    return static_cast<D>(d);
  } else {
    return static_cast<D>(s);  // integer to integer: modulo 2^bits
  }
}

}  // namespace dagrad
