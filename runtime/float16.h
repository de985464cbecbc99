// The 16-bit floating-point storage types: bfloat16 (1 sign, 8 exponent, 7 mantissa bits:
// float32's range) and float16 (IEEE binary16: 5 exponent, 10 mantissa bits), and their
// conversions to and from float and double. Narrowing rounds to nearest, ties to even,
// once (double is never rounded through float first); subnormals are kept, values past
// the largest finite one round to infinity, and a NaN stays a NaN with its sign and the
// top bits of its payload, quieted (what x86's vcvtneps2bf16 and vcvtps2ph do).
//
// Host and device, and self-contained like ops/elementwise_math.h: the CUDA backend
// passes this text to NVRTC in front of the generated elementwise kernels, so it uses
// only built-in integer types and no project header but runtime/hostdev.h (whose text
// NVRTC is given first).
#pragma once

#ifndef __CUDACC_RTC__
#include <cstring>

#include "runtime/hostdev.h"
#endif

namespace dagrad {
namespace f16_detail {

typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

// The bit patterns of float and double: the device's intrinsics, the host's memcpy.
#if defined(__CUDA_ARCH__)
DAGRAD_HD u32 float_bits(float f) { return __float_as_uint(f); }
DAGRAD_HD float bits_float(u32 u) { return __uint_as_float(u); }
DAGRAD_HD u64 double_bits(double d) { return static_cast<u64>(__double_as_longlong(d)); }
#else
template <class To, class From>
inline To copy_bits(From v) {
  static_assert(sizeof(To) == sizeof(From));
  To t;
  std::memcpy(&t, &v, sizeof t);
  return t;
}
DAGRAD_HD u32 float_bits(float f) { return copy_bits<u32>(f); }
DAGRAD_HD float bits_float(u32 u) { return copy_bits<float>(u); }
DAGRAD_HD u64 double_bits(double d) { return copy_bits<u64>(d); }
#endif

// `x` rounded to a binary format with `man` mantissa and `exp` exponent bits (man <= 23),
// as its bit pattern: every case of the rounding, in one place.
DAGRAD_HD u16 narrow_double(double x, int man, int exp) {
  const u64 b = double_bits(x);
  const u32 sign = static_cast<u32>(b >> 63) << (man + exp);
  const u64 mag = b & 0x7fffffffffffffffull;
  const u32 exp_max = (1u << exp) - 1, bias = (1u << (exp - 1)) - 1;
  if (mag >= 0x7ff0000000000000ull) {  // infinity, or NaN: quieted, top payload bits kept
    const u32 nan = mag > 0x7ff0000000000000ull
                        ? (1u << (man - 1)) | static_cast<u32>((mag & 0xfffffffffffffull) >> (52 - man))
                        : 0u;
    return static_cast<u16>(sign | (exp_max << man) | nan);
  }
  const int field = static_cast<int>(mag >> 52);
  if (field == 0) return static_cast<u16>(sign);  // double subnormals are far below any target's
  const int e = field - 1023;                     // x = 1.m · 2^e
  const u64 sig = (mag & 0xfffffffffffffull) | (1ull << 52);
  // Drop the low bits of the 53-bit significand; more of them when the result is
  // subnormal (its exponent is pinned at 1 - bias).
  const int min_e = 1 - static_cast<int>(bias);
  const int shift = 52 - man + (e < min_e ? min_e - e : 0);
  if (shift >= 64) return static_cast<u16>(sign);
  u64 q = sig >> shift;
  const u64 rem = sig & ((1ull << shift) - 1), half = 1ull << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  if (e < min_e) return static_cast<u16>(sign | static_cast<u32>(q));  // q == 1 << man: the smallest normal
  u32 biased = static_cast<u32>(e + static_cast<int>(bias));
  if (q == (1ull << (man + 1))) {  // rounded up to the next power of two
    q >>= 1;
    ++biased;
  }
  if (biased >= exp_max) return static_cast<u16>(sign | (exp_max << man));  // overflow: infinity
  return static_cast<u16>(sign | (biased << man) | (static_cast<u32>(q) & ((1u << man) - 1)));
}

}  // namespace f16_detail

DAGRAD_HD float bf16_bits_to_float(unsigned short h) { return f16_detail::bits_float(static_cast<unsigned int>(h) << 16); }

// float's low 16 bits rounded away, to nearest even: adding 0x7fff plus the kept part's
// lowest bit carries into the kept part exactly when rounding goes up.
DAGRAD_HD unsigned short float_to_bf16_bits(float f) {
  const unsigned int u = f16_detail::float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((u >> 16) | 0x40u);  // NaN, quieted
  return static_cast<unsigned short>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

DAGRAD_HD unsigned short double_to_bf16_bits(double d) { return f16_detail::narrow_double(d, 7, 8); }

DAGRAD_HD float f16_bits_to_float(unsigned short h) {
  const unsigned int sign = static_cast<unsigned int>(h & 0x8000u) << 16;
  const unsigned int e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return f16_detail::bits_float(sign | 0x7f800000u | (m << 13));  // infinity, NaN
  if (e == 0) {  // zero or subnormal: m · 2^-24, exact in float
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return f16_detail::bits_float(sign | ((e + 112u) << 23) | (m << 13));
}

// float is exact in double, so this rounds once.
DAGRAD_HD unsigned short float_to_f16_bits(float f) { return f16_detail::narrow_double(static_cast<double>(f), 10, 5); }
DAGRAD_HD unsigned short double_to_f16_bits(double d) { return f16_detail::narrow_double(d, 10, 5); }

namespace f16_detail {
// What tells bfloat16 and float16 apart: their conversions.
struct bf16_format {
  static DAGRAD_HD float widen(u16 h) { return bf16_bits_to_float(h); }
  static DAGRAD_HD u16 narrow(float f) { return float_to_bf16_bits(f); }
  static DAGRAD_HD u16 narrow(double d) { return double_to_bf16_bits(d); }
};
struct f16_format {
  static DAGRAD_HD float widen(u16 h) { return f16_bits_to_float(h); }
  static DAGRAD_HD u16 narrow(float f) { return float_to_f16_bits(f); }
  static DAGRAD_HD u16 narrow(double d) { return double_to_f16_bits(d); }
};

// A storage type: the bit pattern, converted explicitly (never by arithmetic on it).
template <class Format>
struct half_float {
  unsigned short bits;
  half_float() = default;
  DAGRAD_HD explicit half_float(float f) : bits(Format::narrow(f)) {}
  DAGRAD_HD explicit half_float(double d) : bits(Format::narrow(d)) {}
  DAGRAD_HD static half_float from_bits(unsigned short b) {
    half_float h;
    h.bits = b;
    return h;
  }
  DAGRAD_HD explicit operator float() const { return Format::widen(bits); }
  DAGRAD_HD explicit operator double() const { return static_cast<double>(Format::widen(bits)); }
};
}  // namespace f16_detail

using bfloat16 = f16_detail::half_float<f16_detail::bf16_format>;
using float16 = f16_detail::half_float<f16_detail::f16_format>;

}  // namespace dagrad
