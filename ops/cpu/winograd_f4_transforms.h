// The F(4x4, 3x3) Winograd tiling and transforms (Lavin and Gray's matrices, interpolation
// points 0, ±1, ±2), sixteen channels per AVX-512 vector, shared by the forward pass
// (conv_winograd_f4.cpp) and the weight gradient (conv_winograd_f4_weight.cpp).
#pragma once
#if defined(__AVX512F__)
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/gemm_engine.h"
#include "ops/params/conv.h"

namespace dagrad::winograd {

inline constexpr int kXi = 36;  // values of a transformed 6x6 tile, ξ = 6a + b

// The 4x4 output tiles of a convolution and the padded channels-last image they read.
struct Tiles {
  int64_t ty, tx;  // tiles down and across
  int64_t hp, wp;  // the padded channels-last image: 4*ty + 2 by 4*tx + 2 pixels
  int64_t cp, op;  // channels and outputs rounded up to whole vectors
  int64_t tiles() const { return ty * tx; }
};
inline Tiles tiles_of(const ConvGeom& g) {
  Tiles t;
  t.ty = (g.oh + 3) / 4, t.tx = (g.ow + 3) / 4;
  t.hp = 4 * t.ty + 2, t.wp = 4 * t.tx + 2;
  t.cp = gemm_engine::round_up(g.c, gemm_engine::kLanes), t.op = gemm_engine::round_up(g.o, gemm_engine::kLanes);
  return t;
}

// The six outputs of Bᵀ z, Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
// 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
[[gnu::always_inline]] inline void lift_input(const __m512 z[6], __m512 r[6]) {
  const __m512 four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f), two = _mm512_set1_ps(2.f);
  const __m512 t1 = _mm512_fnmadd_ps(four, z[2], z[4]);  // z4 - 4 z2
  const __m512 t2 = _mm512_fnmadd_ps(four, z[1], z[3]);  // z3 - 4 z1
  const __m512 t3 = _mm512_sub_ps(z[4], z[2]);
  const __m512 t4 = _mm512_mul_ps(two, _mm512_sub_ps(z[3], z[1]));
  r[0] = _mm512_fmadd_ps(four, z[0], _mm512_fnmadd_ps(five, z[2], z[4]));
  r[1] = _mm512_add_ps(t1, t2);
  r[2] = _mm512_sub_ps(t1, t2);
  r[3] = _mm512_add_ps(t3, t4);
  r[4] = _mm512_sub_ps(t3, t4);
  r[5] = _mm512_fmadd_ps(four, z[1], _mm512_fnmadd_ps(five, z[3], z[5]));
}

// The four outputs of Aᵀ z, Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
[[gnu::always_inline]] inline void reduce_output(const __m512 z[6], __m512 r[4]) {
  const __m512 s = _mm512_add_ps(z[1], z[2]), d = _mm512_sub_ps(z[1], z[2]);
  const __m512 s2 = _mm512_add_ps(z[3], z[4]), d2 = _mm512_sub_ps(z[3], z[4]);
  r[0] = _mm512_add_ps(_mm512_add_ps(z[0], s), s2);
  r[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), d2, d);
  r[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), s2, s);
  r[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), d2, d), z[5]);
}

// The six outputs of A z (the 4x4 gradient tile lifted), A = (Aᵀ)ᵀ above.
[[gnu::always_inline]] inline void lift_gradient(const __m512 z[4], __m512 r[6]) {
  const __m512 s = _mm512_add_ps(z[0], z[2]), d = _mm512_add_ps(z[1], z[3]);
  const __m512 s4 = _mm512_fmadd_ps(_mm512_set1_ps(4.f), z[2], z[0]);
  const __m512 d8 = _mm512_fmadd_ps(_mm512_set1_ps(8.f), z[3], _mm512_add_ps(z[1], z[1]));
  r[0] = z[0];
  r[1] = _mm512_add_ps(s, d);
  r[2] = _mm512_sub_ps(s, d);
  r[3] = _mm512_add_ps(s4, d8);
  r[4] = _mm512_sub_ps(s4, d8);
  r[5] = z[3];
}

// Bᵀ d B of the 6x6 tile at d (rows row_stride floats apart, pixels pixel_stride apart):
// store(ξ, vector) for each of the 36 values. Rows first (d B), then columns.
template <class Store>
[[gnu::always_inline]] inline void transform_input_tile(const float* d, int64_t row_stride, int64_t pixel_stride,
                                                        Store&& store) {
  __m512 e[6][6];
  for (int i = 0; i < 6; ++i) {
    __m512 z[6];
    for (int j = 0; j < 6; ++j) z[j] = _mm512_loadu_ps(d + i * row_stride + j * pixel_stride);
    lift_input(z, e[i]);
  }
  for (int j = 0; j < 6; ++j) {
    __m512 z[6], col[6];
    for (int i = 0; i < 6; ++i) z[i] = e[i][j];
    lift_input(z, col);
    for (int a = 0; a < 6; ++a) store(a * 6 + j, col[a]);
  }
}

}  // namespace dagrad::winograd

#endif
