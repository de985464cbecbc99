#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/error.h"
#include "runtime/float16.h"

namespace dagrad {

// Element types. The floating ones: float32, float64, and the 16-bit bfloat16 and
// float16 (runtime/float16.h); then bool and the signed and unsigned integers (what ONNX
// models carry). Conversions between any two are defined once, in runtime/convert.h.
enum class DType : uint8_t { f32, f64, i32, i64, u8, bf16, f16, boolean, i8, i16, u16, u32, u64 };

inline constexpr DType kAllDTypes[] = {DType::f32,     DType::f64, DType::bf16, DType::f16, DType::boolean,
                                       DType::i8,      DType::i16, DType::i32,  DType::i64, DType::u8,
                                       DType::u16,     DType::u32, DType::u64};

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64:
    case DType::i64:
    case DType::u64: return 8;
    case DType::f32:
    case DType::i32:
    case DType::u32: return 4;
    case DType::bf16:
    case DType::f16:
    case DType::i16:
    case DType::u16: return 2;
    case DType::boolean:
    case DType::i8:
    case DType::u8: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    case DType::boolean: return "bool";
    case DType::i8: return "int8";
    case DType::i16: return "int16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::u16: return "uint16";
    case DType::u32: return "uint32";
    case DType::u64: return "uint64";
  }
  return "?";
}

// "f32", "bf16", "i64", "u8", "bool": what parse_dtype also accepts.
constexpr std::string_view dtype_short_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::boolean: return "bool";
    case DType::i8: return "i8";
    case DType::i16: return "i16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
    case DType::u16: return "u16";
    case DType::u32: return "u32";
    case DType::u64: return "u64";
  }
  return "?";
}

// float32 or float64: what most kernels compute in (dispatch_floating).
constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
// bfloat16 or float16: stored in 16 bits, computed in float32.
constexpr bool is_half(DType t) { return t == DType::bf16 || t == DType::f16; }
// Any floating-point type.
constexpr bool is_float(DType t) { return is_floating(t) || is_half(t); }
// bool and the integers.
constexpr bool is_integral(DType t) { return !is_float(t); }

// What values of a floating type are computed in: float64 for float64, float32 for
// float32 and the 16-bit types (which are storage only). Integers are their own.
constexpr DType compute_dtype(DType t) { return t == DType::f64 || !is_float(t) ? t : DType::f32; }

// Accepts every dtype_name and dtype_short_name ("bfloat16" or "bf16", ...).
DType parse_dtype(std::string_view s);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<float16>() { return DType::f16; }
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::i16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::u16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::u32; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::u64; }

std::ostream& operator<<(std::ostream& os, DType t);

namespace dtype_detail {
// The one dispatch loop behind dispatch_*: fn.template operator()<T>() for the T among
// Ts whose dtype is t; otherwise `throw miss()`. Each dispatch_* below only names its
// types and its error.
template <class T, class... Rest, class Fn, class Miss>
decltype(auto) dispatch_among(DType t, Fn& fn, const Miss& miss) {
  if (t == dtype_of<T>()) return fn.template operator()<T>();
  if constexpr (sizeof...(Rest) > 0)
    return dispatch_among<Rest...>(t, fn, miss);
  else
    throw miss();
}
}  // namespace dtype_detail

// Calls fn.template operator()<T>() with T = float or double; anything else is a TypeError
// naming `who`. Kernels use it to instantiate once per floating type.
template <class Fn>
decltype(auto) dispatch_floating(DType t, std::string_view who, Fn&& fn) {
  return dtype_detail::dispatch_among<float, double>(t, fn, [&] {
    return TypeError(str_cat("[", who, "] expects float32 or float64, got ", dtype_name(t)));
  });
}

// Same for every floating type: float, double, bfloat16, float16.
template <class Fn>
decltype(auto) dispatch_float(DType t, std::string_view who, Fn&& fn) {
  return dtype_detail::dispatch_among<float, double, bfloat16, float16>(t, fn, [&] {
    return TypeError(str_cat("[", who, "] expects a floating-point dtype, got ", dtype_name(t)));
  });
}

// Same for bool and the integer types.
template <class Fn>
decltype(auto) dispatch_integral(DType t, std::string_view who, Fn&& fn) {
  return dtype_detail::dispatch_among<bool, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>(
      t, fn, [&] { return TypeError(str_cat("[", who, "] expects bool or an integer dtype, got ", dtype_name(t))); });
}

// Same for every dtype.
template <class Fn>
decltype(auto) dispatch_all(DType t, Fn&& fn) {
  return dtype_detail::dispatch_among<float, double, bfloat16, float16, bool, int8_t, int16_t, int32_t, int64_t,
                                      uint8_t, uint16_t, uint32_t, uint64_t>(t, fn,
                                                                            [] { return InternalError("bad dtype"); });
}

}  // namespace dagrad
