// The bfloat16 micro-kernels and GEMM driver. Every function using AVX512_BF16 carries
// the target attribute itself (no per-file ISA flags), so nothing else in the program is
// compiled for instructions the CPU may lack; callers check available() first.
#include "ops/cpu/gemm_bf16.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "ops/cpu/amx.h"
#include "ops/cpu/operands.h"
#include "ops/cpu/transpose.h"

// GCC 12's intrinsics pass an undefined vector as the unused merge source of the widening
// and shift below and then warn about it when inlined into a function compiled for AVX-512
// by a target attribute (as in transpose.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dagrad::gemm_bf16 {

namespace {

#define DAGRAD_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

std::atomic<bool>& forced() {
  static std::atomic<bool> f{[] {
    const char* env = std::getenv("DAGRAD_NO_BF16_KERNELS");
    return env && *env && std::strcmp(env, "0") != 0;
  }()};
  return f;
}

// The register tile: acc[r][v] holds row r, columns [16v, 16v + 16) of a kMr x 16·NV tile.
template <int NV>
struct Tile {
  __m512 acc[kMr][NV];
};

template <int NV>
DAGRAD_BF16_TARGET inline __attribute__((always_inline)) void store_tile(Tile<NV>& t, float* c, int64_t ldc, int mr,
                                                                         int nr, bool accumulate, const float* bias) {
  constexpr int w = NV * kLanes;
  if (bias)
    for (int r = 0; r < kMr; ++r) {
      const __m512 b = _mm512_set1_ps(bias[r < mr ? r : 0]);
      for (int v = 0; v < NV; ++v) t.acc[r][v] = _mm512_add_ps(t.acc[r][v], b);
    }
  if (mr == kMr && nr == w) {
    for (int r = 0; r < kMr; ++r)
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * kLanes;
        _mm512_storeu_ps(p, accumulate ? _mm512_add_ps(_mm512_loadu_ps(p), t.acc[r][v]) : t.acc[r][v]);
      }
    return;
  }
  // Edge tile: masked stores of the columns inside C, rows past mr skipped.
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < NV; ++v) {
      const int cols = std::min(kLanes, nr - v * kLanes);
      if (cols <= 0) break;
      const __mmask16 m = static_cast<__mmask16>((1u << cols) - 1u);
      float* p = c + r * ldc + v * kLanes;
      const __m512 val = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), t.acc[r][v]) : t.acc[r][v];
      _mm512_mask_storeu_ps(p, m, val);
    }
}

// t.acc = the sum over kp pairs of a(p, r)·b(p, v): a(p, r) is row r's pair p as a 32-bit
// word, b(p, v) points at the pairs of columns [16v, 16v + 16) (64-byte aligned if kAlignedB).
template <int NV, bool kAlignedB, class PairA, class PairsB>
DAGRAD_BF16_TARGET inline __attribute__((always_inline)) void tile_product(int64_t kp, PairA&& a, PairsB&& b,
                                                                           Tile<NV>& t) {
  for (int r = 0; r < kMr; ++r)
    for (int v = 0; v < NV; ++v) t.acc[r][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; ++p) {
    __m512bh bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = (__m512bh)(kAlignedB ? _mm512_load_si512(b(p, v)) : _mm512_loadu_si512(b(p, v)));
    for (int r = 0; r < kMr; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a(p, r)));
      for (int v = 0; v < NV; ++v) t.acc[r][v] = _mm512_dpbf16_ps(t.acc[r][v], av, bv[v]);
    }
  }
}

template <int NV>
DAGRAD_BF16_TARGET void kernel(int64_t kp, const uint32_t* __restrict ap, const uint32_t* __restrict bp, float* c,
                               int64_t ldc, int mr, int nr, bool accumulate, const float* bias) {
  constexpr int w = NV * kLanes;
  Tile<NV> t;
  tile_product<NV, true>(
      kp, [&](int64_t p, int r) { return ap[p * kMr + r]; }, [&](int64_t p, int v) { return bp + p * w + v * kLanes; },
      t);
  store_tile<NV>(t, c, ldc, mr, nr, accumulate, bias);
}

template <int NV>
DAGRAD_BF16_TARGET void kernel_direct_b(int64_t kp, const uint32_t* __restrict ap, const uint32_t* __restrict b,
                                        const int32_t* __restrict koff, float* c, int64_t ldc, int mr, int nr,
                                        bool accumulate, const float* bias) {
  Tile<NV> t;
  tile_product<NV, false>(
      kp, [&](int64_t p, int r) { return ap[p * kMr + r]; }, [&](int64_t p, int v) { return b + koff[p] + v * kLanes; },
      t);
  store_tile<NV>(t, c, ldc, mr, nr, accumulate, bias);
}

template <int NV>
DAGRAD_BF16_TARGET void kernel_direct_a(int64_t kp, const uint16_t* const* a_rows, const uint32_t* __restrict bp,
                                        float* c, int64_t ldc, int mr, int nr, bool accumulate) {
  constexpr int w = NV * kLanes;
  const uint16_t* rows[kMr];
  for (int r = 0; r < kMr; ++r) rows[r] = a_rows[r];
  Tile<NV> t;
  tile_product<NV, true>(
      kp,
      [&](int64_t p, int r) {
        uint32_t word;
        std::memcpy(&word, rows[r] + 2 * p, sizeof word);  // any alignment
        return word;
      },
      [&](int64_t p, int v) { return bp + p * w + v * kLanes; }, t);
  store_tile<NV>(t, c, ldc, mr, nr, accumulate, nullptr);
}

// One A panel: rows [0, mr) of A(i, k) = a[i*rs + k*cs], pairs of k in [0, kc); rows past
// mr are zero. The two usual layouts are vectorised (the packing costs as much as a
// fifth of a small GEMM's time otherwise); every other stride takes the scalar loop.
DAGRAD_BF16_TARGET void pack_a_panel(const uint16_t* a, int64_t rs, int64_t cs, int mr, int64_t kc, uint32_t* dst) {
  static_assert(kMr == 8, "a pair of stored rows fills the panel's 8 words from one 128-bit interleave");
  const int64_t kp = (kc + 1) / 2, full = kc / 2;
  if (cs == 1 && rs % 2 == 0 && reinterpret_cast<uintptr_t>(a) % 4 == 0) {
    // Rows along k: row r's pairs are its consecutive 32-bit words, so the panel is those
    // words transposed; an odd kc's last value pairs with zero.
    if (mr < kMr) std::fill(dst, dst + kp * kMr, 0u);
    transpose_32bit(reinterpret_cast<const uint32_t*>(a), rs / 2, mr, full, dst, kMr);
    if (full < kp)
      for (int r = 0; r < mr; ++r) dst[full * kMr + r] = a[r * rs + kc - 1];
    return;
  }
  if (rs == 1) {  // stored transposed: pair p interleaves stored rows 2p and 2p + 1
    const __mmask8 rows = static_cast<__mmask8>((1u << mr) - 1u);
    for (int64_t p = 0; p < kp; ++p) {
      const __m128i lo = _mm_maskz_loadu_epi16(rows, a + 2 * p * cs);
      const __m128i hi = 2 * p + 1 < kc ? _mm_maskz_loadu_epi16(rows, a + (2 * p + 1) * cs) : _mm_setzero_si128();
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + p * kMr), _mm_unpacklo_epi16(lo, hi));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + p * kMr + 4), _mm_unpackhi_epi16(lo, hi));
    }
    return;
  }
  for (int64_t p = 0; p < kp; ++p) {
    const int64_t k0 = 2 * p;
    const bool has_hi = k0 + 1 < kc;
    for (int r = 0; r < kMr; ++r) {
      if (r >= mr) {
        dst[p * kMr + r] = 0;
        continue;
      }
      const uint16_t* row = a + r * rs;
      dst[p * kMr + r] = pair_word(row[k0 * cs], has_hi ? row[(k0 + 1) * cs] : 0);
    }
  }
}

// One B panel of width w: columns [0, nr) of B(k, j) = b[k*rs + j*cs], pairs of k in [0, kc).
DAGRAD_BF16_TARGET void pack_b_panel(const uint16_t* b, int64_t rs, int64_t cs, int64_t kc, int nr, int w,
                                     uint32_t* dst) {
  const int64_t kp = (kc + 1) / 2;
  if (rs == 1 && cs % 2 == 0 && reinterpret_cast<uintptr_t>(b) % 4 == 0) {
    // Stored transposed (a weight read as Wᵀ): each column's pairs are contiguous words;
    // transposed in 16 x 16 blocks, an odd k's last value paired with zero.
    const int64_t full = kc / 2;
    transpose_32bit(reinterpret_cast<const uint32_t*>(b), cs / 2, nr, full, dst, w);
    if (full < kp)
      for (int j = 0; j < nr; ++j) dst[full * w + j] = b[j * cs + kc - 1];
    if (nr < w)
      for (int64_t p = 0; p < kp; ++p) std::fill(dst + p * w + nr, dst + (p + 1) * w, 0u);
    return;
  }
  for (int64_t p = 0; p < kp; ++p) {
    const int64_t k0 = 2 * p;
    const bool has_hi = k0 + 1 < kc;
    const uint16_t* lo = b + k0 * rs;
    const uint16_t* hi = b + (k0 + 1) * rs;
    uint32_t* d = dst + p * w;
    if (cs == 1) {  // rows along j: 16 words at a time from two rows widened and interleaved
      for (int j = 0; j < w; j += kLanes) {
        const __mmask16 m = static_cast<__mmask16>((1u << std::clamp(nr - j, 0, kLanes)) - 1u);
        const __m512i l = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, lo + j));
        const __m512i h = has_hi ? _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, hi + j)) : _mm512_setzero_si512();
        _mm512_storeu_si512(d + j, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
      }
      continue;
    }
    for (int j = 0; j < nr; ++j) d[j] = pair_word(lo[j * cs], has_hi ? hi[j * cs] : 0);
    for (int j = nr; j < w; ++j) d[j] = 0;
  }
}

}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
  }();
  return has;
}

bool available() { return cpu_has_avx512_bf16() && !forced().load(std::memory_order_relaxed); }

void force_fallback(bool on) { forced().store(on, std::memory_order_relaxed); }

namespace {
std::atomic<bool> vdpbf16ps_forced_{false};
}  // namespace

bool vdpbf16ps_pays() {
  static const bool intel = [] {
    __builtin_cpu_init();
    return __builtin_cpu_is("intel");
  }();
  return available() && (!intel || vdpbf16ps_forced());
}

void force_vdpbf16ps(bool on) { vdpbf16ps_forced_.store(on, std::memory_order_relaxed); }
bool vdpbf16ps_forced() { return vdpbf16ps_forced_.load(std::memory_order_relaxed); }

const char* kernels_name() {
  if (amx::available()) return "AMX tiles";
  return vdpbf16ps_pays() ? "AVX512_BF16 vdpbf16ps" : "the float32 kernels, widened";
}

void micro_kernel(int w, int64_t kp, const uint32_t* ap, const uint32_t* bp, float* c, int64_t ldc, int mr, int nr,
                  bool accumulate, const float* bias) {
  switch (w / kLanes) {
    case 3: return kernel<3>(kp, ap, bp, c, ldc, mr, nr, accumulate, bias);
    case 2: return kernel<2>(kp, ap, bp, c, ldc, mr, nr, accumulate, bias);
    default: return kernel<1>(kp, ap, bp, c, ldc, mr, nr, accumulate, bias);
  }
}

void micro_kernel_direct_b(int w, int64_t kp, const uint32_t* ap, const uint32_t* b, const int32_t* koff, float* c,
                           int64_t ldc, int mr, int nr, bool accumulate, const float* bias) {
  switch (w / kLanes) {
    case 3: return kernel_direct_b<3>(kp, ap, b, koff, c, ldc, mr, nr, accumulate, bias);
    case 2: return kernel_direct_b<2>(kp, ap, b, koff, c, ldc, mr, nr, accumulate, bias);
    default: return kernel_direct_b<1>(kp, ap, b, koff, c, ldc, mr, nr, accumulate, bias);
  }
}

void micro_kernel_direct_a(int w, int64_t kp, const uint16_t* const* a_rows, const uint32_t* bp, float* c,
                           int64_t ldc, int mr, int nr, bool accumulate) {
  switch (w / kLanes) {
    case 3: return kernel_direct_a<3>(kp, a_rows, bp, c, ldc, mr, nr, accumulate);
    case 2: return kernel_direct_a<2>(kp, a_rows, bp, c, ldc, mr, nr, accumulate);
    default: return kernel_direct_a<1>(kp, a_rows, bp, c, ldc, mr, nr, accumulate);
  }
}

namespace {

// The float32 GEMM with bfloat16 operands widened panel by panel: each block is widened along
// its contiguous dimension into scratch, then packed by the float32 packers from there. A
// row-major operand is either (rows, 1) or (1, rows) strided, so every run widened is
// contiguous.
void gemm_widened(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                  const uint16_t* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  namespace ge = gemm_engine;
  const int64_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
  const int64_t brs = trans_b ? 1 : ldb, bcs = trans_b ? ldb : 1;
  ge::Scratch& s = ge::thread_scratch();
  ge::run(
      ge::Problem{m, n, k},
      [&](int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) {
        float* wide = s.get(ge::Slot::widen_a, static_cast<size_t>(mr * kc));
        const uint16_t* src = a + i0 * ars + k0 * acs;
        if (acs == 1) {  // rows along k: wide[r * kc + p]
          for (int r = 0; r < mr; ++r) widened(src + r * ars, kc, wide + r * kc);
          ge::pack_a_panel(wide, kc, 1, mr, kc, dst);
        } else {  // stored transposed: wide[p * mr + r]
          for (int64_t p = 0; p < kc; ++p) widened(src + p * acs, mr, wide + p * mr);
          ge::pack_a_panel(wide, 1, mr, mr, kc, dst);
        }
      },
      [&](int64_t k0, int64_t kc, int64_t j0, int nr, int w, float* dst) {
        float* wide = s.get(ge::Slot::widen_b, static_cast<size_t>(nr * kc));
        const uint16_t* src = b + k0 * brs + j0 * bcs;
        if (bcs == 1) {  // rows along j: wide[p * nr + j]
          for (int64_t p = 0; p < kc; ++p) widened(src + p * brs, nr, wide + p * nr);
          ge::pack_b_panel(wide, nr, 1, kc, nr, w, dst);
        } else {  // stored transposed: wide[j * kc + p]
          for (int j = 0; j < nr; ++j) widened(src + j * bcs, kc, wide + j * kc);
          ge::pack_b_panel(wide, 1, kc, kc, nr, w, dst);
        }
      },
      c, ldc, accumulate);
}

}  // namespace

// The BLIS loop nest of gemm_engine::run, over pairs of k.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
          const uint16_t* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  namespace ge = gemm_engine;
  if (m <= 0 || n <= 0) return;
  if (k > 0 && amx::available() && amx::gemm_applies(m, n, k))
    return amx::gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  if (!vdpbf16ps_pays()) return gemm_widened(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.f);
    return;
  }
  const int64_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
  const int64_t brs = trans_b ? 1 : ldb, bcs = trans_b ? ldb : 1;
  const int64_t kc_max = 2 * ge::ceil_div(ge::ceil_div(k, 2), ge::ceil_div(ge::ceil_div(k, 2), kMaxKcPairs));
  const int64_t nc_max = ge::round_up(ge::ceil_div(n, ge::ceil_div(n, kMaxNc)), kNr);
  const int64_t mc_max = ge::round_up(ge::ceil_div(m, ge::ceil_div(m, kMaxMc)), kMr);
  ge::Scratch& s = ge::thread_scratch();
  // 32-bit words in float-sized scratch slots.
  uint32_t* ap = reinterpret_cast<uint32_t*>(s.get(ge::Slot::pack_a, static_cast<size_t>(mc_max * kc_max / 2)));
  uint32_t* bp = reinterpret_cast<uint32_t*>(s.get(ge::Slot::pack_b, static_cast<size_t>(nc_max * kc_max / 2)));
  for (int64_t jc = 0; jc < n; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n - jc);
    for (int64_t pc = 0; pc < k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, k - pc), kp = (kc + 1) / 2;
      const bool acc = accumulate || pc > 0;
      for (int64_t jr = 0; jr < nc;) {
        const int w = panel_width(nc - jr);
        pack_b_panel(b + pc * brs + (jc + jr) * bcs, brs, bcs, kc, static_cast<int>(std::min<int64_t>(w, nc - jr)), w,
                     bp + jr * kp);
        jr += w;
      }
      for (int64_t ic = 0; ic < m; ic += mc_max) {
        const int64_t mc = std::min(mc_max, m - ic);
        for (int64_t ir = 0; ir < mc; ir += kMr)
          pack_a_panel(a + (ic + ir) * ars + pc * acs, ars, acs, static_cast<int>(std::min<int64_t>(kMr, mc - ir)), kc,
                       ap + ir * kp);
        for (int64_t jr = 0; jr < nc;) {
          const int w = panel_width(nc - jr);
          const int nr = static_cast<int>(std::min<int64_t>(w, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += kMr)
            micro_kernel(w, kp, ap + ir * kp, bp + jr * kp, c + (ic + ir) * ldc + jc + jr, ldc,
                         static_cast<int>(std::min<int64_t>(kMr, mc - ir)), nr, acc, nullptr);
          jr += w;
        }
      }
    }
  }
}

}  // namespace dagrad::gemm_bf16
