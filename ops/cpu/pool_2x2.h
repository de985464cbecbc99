// Max pooling with the 2x2, stride-2, unpadded window (the windows tile the image), for
// float32, sixteen windows at a time in GCC vector extensions; window positions are
// PoolIndex values (ops/params/conv.h), here i * 2 + j. The choice is exactly
// window_argmax's (the first maximum in row-major order; a NaN wins and a later NaN
// wins over it): written with scalar compares GCC turns it into branches that mispredict
// on real data (measured 30x slower than this).
#pragma once
#include <cstdint>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace dagrad::pool_2x2 {

typedef float Vf __attribute__((vector_size(64)));
typedef int32_t Vi __attribute__((vector_size(64)));
inline constexpr int64_t kWindows = 16;

// Windows [ow0, ow0 + n) of one output row: a, b from input row r0, c, d from r1.
struct Quad {
  Vf a, b, c, d;
};

// The first n (1..16) floats at p, zeros after; and the store of the first n lanes.
inline Vf load_n(const float* p, int64_t n) {
#if defined(__AVX512F__)
  return reinterpret_cast<Vf>(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p));
#else
  float buf[kWindows] = {};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  Vf v;
  std::memcpy(&v, buf, sizeof v);
  return v;
#endif
}

inline void store_n(float* p, Vf v, int64_t n) {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), reinterpret_cast<__m512>(v));
#else
  std::memcpy(p, &v, static_cast<size_t>(n) * sizeof(float));
#endif
}

// The 2n floats at r split into even and odd elements.
inline void deinterleave(const float* r, int64_t n, Vf& even, Vf& odd) {
  const Vf lo = load_n(r, 2 * n < kWindows ? 2 * n : kWindows);
  const Vf hi = 2 * n > kWindows ? load_n(r + kWindows, 2 * n - kWindows) : Vf{} + 0.f;
  even = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  odd = __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

inline Quad load_quad(const float* r0, const float* r1, int64_t n) {
  Quad q;
  deinterleave(r0, n, q.a, q.b);
  deinterleave(r1, n, q.c, q.d);
  return q;
}

// Per window: 0..3, the element window_argmax picks.
inline Vi argmax(const Quad& q) {
  Vf best = q.a;
  Vi sel = Vi{} + 0;
  Vi take = (q.b > best) | (q.b != q.b);
  best = take ? q.b : best;
  sel = take ? Vi{} + 1 : sel;
  take = (q.c > best) | (q.c != q.c);
  best = take ? q.c : best;
  sel = take ? Vi{} + 2 : sel;
  take = (q.d > best) | (q.d != q.d);
  return take ? Vi{} + 3 : sel;
}

inline Vf pick(Vi sel, const Quad& q) {
  Vf v = sel == 1 ? q.b : q.a;
  v = sel == 2 ? q.c : v;
  return sel == 3 ? q.d : v;
}

typedef uint16_t Vh __attribute__((vector_size(32)));

// The first n 16-bit values at p (window positions, or a 16-bit float's bits) widened to
// 32-bit lanes, and their store. Masked moves where AVX-512 has them for 16-bit lanes: a
// memcpy of a variable n is a library call per row.
inline Vi load_u16(const uint16_t* p, int64_t n) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  const Vh h = reinterpret_cast<Vh>(_mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << n) - 1), p));
#else
  Vh h = Vh{} + 0;
  std::memcpy(&h, p, static_cast<size_t>(n) * sizeof(uint16_t));
#endif
  return __builtin_convertvector(h, Vi);
}

inline void store_u16(uint16_t* p, Vi sel, int64_t n) {
  const Vh h = __builtin_convertvector(sel, Vh);
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  _mm256_mask_storeu_epi16(p, static_cast<__mmask16>((1u << n) - 1), reinterpret_cast<__m256i>(h));
#else
  std::memcpy(p, &h, static_cast<size_t>(n) * sizeof(uint16_t));
#endif
}

// y[ow] = the maximum of window ow and idx[ow] its position (0..3), for one output row.
inline void max_row(const float* x0, const float* x1, float* y, uint16_t* idx, int64_t ow_n) {
  for (int64_t ow = 0; ow < ow_n; ow += kWindows) {
    const int64_t n = ow_n - ow < kWindows ? ow_n - ow : kWindows;
    const Quad q = load_quad(x0 + 2 * ow, x1 + 2 * ow, n);
    const Vi sel = argmax(q);
    store_n(y + ow, pick(sel, q), n);
    store_u16(idx + ow, sel, n);
  }
}

// A row's values as lanes: float32, or 16-bit floats (bfloat16, float16) as their bits,
// which the scatter moves whole. And the store of the first n lanes.
inline Vf load_values(const float* p, int64_t n) { return load_n(p, n); }
inline Vi load_values(const uint16_t* p, int64_t n) { return load_u16(p, n); }
inline void store_values(float* p, Vf v, int64_t n) { store_n(p, v, n); }
inline void store_values(uint16_t* p, Vi v, int64_t n) { store_u16(p, v, n); }

// r[2k] = even[k], r[2k + 1] = odd[k] for k < n.
template <class S, class V>
inline void interleave_store(V even, V odd, S* r, int64_t n) {
  const V lo = __builtin_shufflevector(even, odd, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const V hi = __builtin_shufflevector(even, odd, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  store_values(r, lo, 2 * n < kWindows ? 2 * n : kWindows);
  if (2 * n > kWindows) store_values(r + kWindows, hi, 2 * n - kWindows);
}

// dx rows d0, d1 = dy[ow] at window ow's position idx[ow], zero elsewhere (float32, or a
// 16-bit float's bits with +0 for zero).
template <class S>
inline void scatter_row(const uint16_t* idx, const S* dy, S* d0, S* d1, int64_t ow_n) {
  for (int64_t ow = 0; ow < ow_n; ow += kWindows) {
    const int64_t n = ow_n - ow < kWindows ? ow_n - ow : kWindows;
    const Vi sel = load_u16(idx + ow, n);
    const auto g = load_values(dy + ow, n);
    const decltype(g) zero{};
    interleave_store(sel == 0 ? g : zero, sel == 1 ? g : zero, d0 + 2 * ow, n);
    interleave_store(sel == 2 ? g : zero, sel == 3 ? g : zero, d1 + 2 * ow, n);
  }
}

}  // namespace dagrad::pool_2x2
