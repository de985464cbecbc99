#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/error.h"

namespace dagrad {

enum class DType : uint8_t { f32, f64, i32, i64, u8 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

// Accepts "float32"/"f32", "float64"/"f64", "int32"/"i32", "int64"/"i64", "uint8"/"u8".
DType parse_dtype(std::string_view s);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }

std::ostream& operator<<(std::ostream& os, DType t);

// Calls fn.template operator()<T>() with T = float or double; anything else is a TypeError
// naming `who`. Kernels use it to instantiate once per floating type.
template <class Fn>
decltype(auto) dispatch_floating(DType t, std::string_view who, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn.template operator()<float>();
    case DType::f64: return fn.template operator()<double>();
    default:
      throw TypeError(str_cat("[", who, "] expects float32 or float64, got ", dtype_name(t)));
  }
}

// Same for every dtype.
template <class Fn>
decltype(auto) dispatch_all(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn.template operator()<float>();
    case DType::f64: return fn.template operator()<double>();
    case DType::i32: return fn.template operator()<int32_t>();
    case DType::i64: return fn.template operator()<int64_t>();
    case DType::u8: return fn.template operator()<uint8_t>();
  }
  throw InternalError("bad dtype");
}

}  // namespace dagrad
