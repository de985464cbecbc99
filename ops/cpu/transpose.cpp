#include "ops/cpu/transpose.h"

#include <immintrin.h>

#include <algorithm>

// GCC 12's intrinsics pass an undefined vector as the unused merge source of the shuffles
// below and then warn about it when inlined into a function compiled for AVX-512 by a
// target attribute.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dagrad {

namespace {

#define DAGRAD_AVX512_TARGET __attribute__((target("avx512f")))

// One block of up to 16 x 16 (nr rows of nc columns; a partial block's loads and stores
// are masked): rows r are loaded, then 32-bit, 64-bit and two 128-bit-lane shuffle
// stages; after the second, u[4g + j] holds, in lane L, column 4L + j of rows 4g..4g+3.
DAGRAD_AVX512_TARGET void block_16x16(const uint32_t* src, int64_t ss, uint32_t* dst, int64_t ds, int nr = 16,
                                      int nc = 16) {
  const bool full = nr == 16 && nc == 16;
  const __mmask16 row_lanes = static_cast<__mmask16>((1u << nr) - 1u), col_lanes = static_cast<__mmask16>((1u << nc) - 1u);
  __m512i r[16], t[16], u[16];
  for (int i = 0; i < 16; ++i)
    r[i] = full ? _mm512_loadu_si512(src + i * ss)
                : i < nr ? _mm512_maskz_loadu_epi32(col_lanes, src + i * ss) : _mm512_setzero_si512();
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int g = 0; g < 4; ++g) {
    const __m512i* a = t + 4 * g;
    u[4 * g + 0] = _mm512_unpacklo_epi64(a[0], a[2]);
    u[4 * g + 1] = _mm512_unpackhi_epi64(a[0], a[2]);
    u[4 * g + 2] = _mm512_unpacklo_epi64(a[1], a[3]);
    u[4 * g + 3] = _mm512_unpackhi_epi64(a[1], a[3]);
  }
  auto store = [&](int column, __m512i v) {  // the block's column `column`, as a row of dst
    if (full)
      _mm512_storeu_si512(dst + column * ds, v);
    else if (column < nc)
      _mm512_mask_storeu_epi32(dst + column * ds, row_lanes, v);
  };
  for (int j = 0; j < 4; ++j) {
    const __m512i va = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), vb = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xdd);
    const __m512i wa = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88),
                  wb = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xdd);
    store(j, _mm512_shuffle_i32x4(va, wa, 0x88));
    store(8 + j, _mm512_shuffle_i32x4(va, wa, 0xdd));
    store(4 + j, _mm512_shuffle_i32x4(vb, wb, 0x88));
    store(12 + j, _mm512_shuffle_i32x4(vb, wb, 0xdd));
  }
}

bool has_avx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
  }();
  return has;
}

void scalar(const uint32_t* src, int64_t ss, int64_t r0, int64_t r1, int64_t c0, int64_t c1, uint32_t* dst,
            int64_t ds) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) dst[c * ds + r] = src[r * ss + c];
}

}  // namespace

void transpose_32bit(const uint32_t* src, int64_t ss, int64_t rows, int64_t cols, uint32_t* dst, int64_t ds) {
  if (!has_avx512()) return scalar(src, ss, 0, rows, 0, cols, dst, ds);
  for (int64_t r = 0; r < rows; r += 16)
    for (int64_t c = 0; c < cols; c += 16)
      block_16x16(src + r * ss + c, ss, dst + c * ds + r, ds, static_cast<int>(std::min<int64_t>(16, rows - r)),
                  static_cast<int>(std::min<int64_t>(16, cols - c)));
}

}  // namespace dagrad
