// The float32 3x3 convolutions by Winograd's algorithms on dagrad's GEMM micro-kernel.
//
// Forward: F(4x4, 3x3) (ops/cpu/conv_winograd_f4.cpp). The input gradient is the forward
// convolution of dy, padded by 2 - pad, with the kernel flipped and its channel axes
// swapped. The weight gradient, F(2x2, 3x3) here, sums over images and 2x2 tiles
//   S[ξ][o, c] = Σ_t Z[ξ][o, t] · V[ξ][c, t]   with V = Bᵀ d_t B (the 4x4 input tile) and
//                                              Z = A dy_t Aᵀ (the 2x2 dy tile, lifted),
// then dW = Gᵀ S G; images in fixed groups as in the direct kernels, so no result depends on
// the thread count. Its transforms run sixteen channels per vector on channels-last copies.
#include "ops/cpu/conv_winograd.h"

#include <algorithm>

#include "ops/cpu/channels_last.h"
#include "ops/cpu/conv_direct.h"
#include "ops/cpu/gemm_engine.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// GCC 12's _mm512_extractf32x8_ps passes an undefined vector and then warns about it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dagrad::winograd {

namespace {

namespace ge = gemm_engine;

constexpr int64_t kMinChannels = 8;  // below, the transforms cost more than they save
constexpr int kXi = 16;              // values of a transformed tile
// Floats between the 16 transformed matrices of a buffer beyond their size: their rows,
// written together, would otherwise often share one L1 set (strides of 4 KiB multiples).
constexpr int64_t kSkew = 16;

}  // namespace

bool applies(const ConvGeom& g) {
#if defined(__AVX512F__)
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.ph <= 2 && g.pw <= 2 &&
         g.c >= kMinChannels && g.o >= kMinChannels && g.oh > 0 && g.ow > 0;
#else
  (void)g;
  return false;
#endif
}

namespace {

// The weight gradient's 2x2 tiles and the padded image they read: ty x tx tiles of a
// hp x wp image.
struct Tiling {
  int64_t ty, tx, hp, wp;
  int64_t tiles() const { return ty * tx; }
};
Tiling tiling(const ConvGeom& g) {
  const int64_t ty = (g.oh + 1) / 2, tx = (g.ow + 1) / 2;
  return {ty, tx, 2 * ty + 2, 2 * tx + 2};
}

#if defined(__AVX512F__)

// v = Bᵀ d B, Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], for 16 channels at once: load(i, d) gives row i of d, store(ξ, v) takes v[ξ]. Each row is transformed as it
// is loaded (d B), then the columns (Bᵀ ·), so at most 22 vectors are live.
template <class Load, class Store>
[[gnu::always_inline]] inline void input_transform(Load&& load, Store&& store) {
  __m512 e[4][4];
  for (int i = 0; i < 4; ++i) {
    __m512 d[4];
    load(i, d);
    e[i][0] = _mm512_sub_ps(d[0], d[2]);
    e[i][1] = _mm512_add_ps(d[1], d[2]);
    e[i][2] = _mm512_sub_ps(d[2], d[1]);
    e[i][3] = _mm512_sub_ps(d[1], d[3]);
  }
  for (int j = 0; j < 4; ++j) {
    store(j, _mm512_sub_ps(e[0][j], e[2][j]));
    store(4 + j, _mm512_add_ps(e[1][j], e[2][j]));
    store(8 + j, _mm512_sub_ps(e[2][j], e[1][j]));
    store(12 + j, _mm512_sub_ps(e[1][j], e[3][j]));
  }
}

// ---- weight gradient ----

constexpr int64_t kWeightChunk = 64;  // tiles per K block: V and Z of a block stay in L2

// dW = Gᵀ S G for one (o, c): S is 4x4, dW 3x3.
void kernel_grad(const float s[16], float dw[9]) {
  float t[3][4];  // Gᵀ S, Gᵀ = [1 ½ ½ 0; 0 ½ -½ 0; 0 ½ ½ 1]
  for (int b = 0; b < 4; ++b) {
    const float s0 = s[b], s1 = s[4 + b], s2 = s[8 + b], s3 = s[12 + b];
    t[0][b] = s0 + 0.5f * (s1 + s2);
    t[1][b] = 0.5f * (s1 - s2);
    t[2][b] = 0.5f * (s1 + s2) + s3;
  }
  for (int i = 0; i < 3; ++i) {
    dw[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
    dw[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]);
    dw[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
  }
}

struct WeightGradScratch {
  float *x, *dy, *v, *z;
};

// Adds (or, without accumulate, writes) image n's S[ξ][o, c] into s.
void weight_grad_image(const ConvGeom& g, const Tiling& tl, const float* x_n, const float* dy_n,
                       const WeightGradScratch& w, float* s, bool accumulate) {
  const int64_t cp = ge::round_up(g.c, 16), op = ge::round_up(g.o, 16), np = op / ge::kMr;
  const int64_t wx = 2 * tl.tx + 2, wy = 2 * tl.tx;  // channels-last row lengths of x and dy
  channels_last(x_n, g.c, g.h, g.w, g.ph, g.pw, tl.hp, wx, cp, w.x);
  channels_last(dy_n, g.o, g.oh, g.ow, 0, 0, 2 * tl.ty, wy, op, w.dy);
  for (int64_t t0 = 0; t0 < tl.tiles(); t0 += kWeightChunk) {
    const int64_t kc = std::min(kWeightChunk, tl.tiles() - t0);
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t ty = (t0 + k) / tl.tx, tx = (t0 + k) % tl.tx;
      // V[ξ] as B panels over c: panel j0 (width pw) at ξ*(kc*cp + kSkew) + j0*kc, B(k, c) at k*pw + c - j0.
      for (int64_t c0 = 0; c0 < cp; c0 += 16) {
        const int64_t j0 = c0 / ge::kNr * ge::kNr, pw = ge::panel_width(g.c - j0);
        const float* base = w.x + ((2 * ty) * wx + 2 * tx) * cp + c0;
        float* dst = w.v + j0 * kc + k * pw + c0 - j0;
        input_transform(
            [&](int i, __m512 d[4]) {
              for (int j = 0; j < 4; ++j) d[j] = _mm512_loadu_ps(base + (i * wx + j) * cp);
            },
            [&](int xi, __m512 t) { _mm512_storeu_ps(dst + xi * (kc * cp + kSkew), t); });
      }
      // Z[ξ] = (A dy Aᵀ)[ξ], A = [1 0; 1 1; 1 -1; 0 -1], as A panels over o: panel p at
      // ξ*(np*kc*kMr + kSkew) + p*kc*kMr, A(o, k) at k*kMr + o % kMr.
      for (int64_t o0 = 0; o0 < op; o0 += 16) {
        const float* base = w.dy + ((2 * ty) * wy + 2 * tx) * op + o0;
        __m512 e[2][2], r[4][2];
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) e[i][j] = _mm512_loadu_ps(base + (i * wy + j) * op);
        for (int j = 0; j < 2; ++j) {
          r[0][j] = e[0][j];
          r[1][j] = _mm512_add_ps(e[0][j], e[1][j]);
          r[2][j] = _mm512_sub_ps(e[0][j], e[1][j]);
          r[3][j] = _mm512_sub_ps(_mm512_setzero_ps(), e[1][j]);
        }
        for (int a = 0; a < 4; ++a) {
          const __m512 z[4] = {r[a][0], _mm512_add_ps(r[a][0], r[a][1]), _mm512_sub_ps(r[a][0], r[a][1]),
                               _mm512_sub_ps(_mm512_setzero_ps(), r[a][1])};
          for (int b = 0; b < 4; ++b) {
            float* dst = w.z + (a * 4 + b) * (np * kc * ge::kMr + kSkew) + (o0 / ge::kMr * kc + k) * ge::kMr;
            _mm256_storeu_ps(dst, _mm512_castps512_ps256(z[b]));
            _mm256_storeu_ps(dst + kc * ge::kMr, _mm512_extractf32x8_ps(z[b], 1));
          }
        }
      }
    }
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t j0 = 0; j0 < g.c; j0 += ge::kNr) {
        const int pw = ge::panel_width(g.c - j0);
        const int nr = static_cast<int>(std::min<int64_t>(pw, g.c - j0));
        for (int64_t i0 = 0; i0 < g.o; i0 += ge::kMr)
          ge::micro_kernel(pw, kc, w.z + xi * (np * kc * ge::kMr + kSkew) + i0 * kc,
                           w.v + xi * (kc * cp + kSkew) + j0 * kc,
                           s + (xi * g.o + i0) * g.c + j0, g.c, static_cast<int>(std::min<int64_t>(ge::kMr, g.o - i0)),
                           nr, accumulate || t0 > 0, nullptr);
      }
  }
}

#endif

}  // namespace

#if defined(__AVX512F__)

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                    const Epilogue* epilogue) {
  forward_f4(g, x, w, bias, y, epilogue);
}

void conv2d_input_grad(const ConvGeom& g, const float* dy, const float* w, float* dx, const Epilogue* epilogue) {
  // dx = conv(dy padded by 2 - pad, W[c, o, 2-i, 2-j]).
  ConvGeom f = g;
  f.c = g.o, f.h = g.oh, f.w = g.ow, f.o = g.c, f.oh = g.h, f.ow = g.w, f.ph = 2 - g.ph, f.pw = 2 - g.pw;
  float* flipped = ge::thread_scratch().get(ge::Slot::pack_a, g.o * g.c * 9);  // the workers use other slots
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.c; ++c)
      for (int t = 0; t < 9; ++t) flipped[(c * g.o + o) * 9 + t] = w[(o * g.c + c) * 9 + 8 - t];
  forward_f4(f, dy, flipped, nullptr, dx, epilogue);
}

void conv2d_weight_grad(const ConvGeom& g, const float* dy, const float* x, float* dw) {
  const Tiling tl = tiling(g);
  const int64_t cp = ge::round_up(g.c, 16), op = ge::round_up(g.o, 16);
  const int64_t x_floats = tl.hp * (2 * tl.tx + 2) * cp, dy_floats = 2 * tl.ty * 2 * tl.tx * op;
  const int64_t v_floats = kXi * (kWeightChunk * cp + kSkew), z_floats = kXi * (kWeightChunk * op + kSkew);
  const int64_t s_floats = kXi * g.o * g.c, groups = ge::ceil_div(g.n, conv_direct::kWeightGradGroup);
  float* partials = ge::thread_scratch().get(ge::Slot::partials, groups * s_floats);
  parallel_for(0, groups, 1, [&](int64_t lo, int64_t hi) {
    ge::Scratch& sc = ge::thread_scratch();
    float* img = sc.get(ge::Slot::image, x_floats + dy_floats);
    float* vz = sc.get(ge::Slot::output, v_floats + z_floats);
    const WeightGradScratch w{img, img + x_floats, vz, vz + v_floats};
    for (int64_t grp = lo; grp < hi; ++grp) {
      const int64_t first = grp * conv_direct::kWeightGradGroup;
      const int64_t last = std::min(g.n, first + conv_direct::kWeightGradGroup);
      for (int64_t n = first; n < last; ++n)
        weight_grad_image(g, tl, x + n * g.c * g.in_pixels(), dy + n * g.o * g.out_pixels(), w,
                          partials + grp * s_floats, n > first);
    }
  });
  // Groups summed in group order, then dW = Gᵀ S G.
  parallel_for(0, g.o, 1, [&](int64_t lo, int64_t hi) {
    float* rows = ge::thread_scratch().get(ge::Slot::pack_a, kXi * g.c);  // S[ξ][o, :]
    for (int64_t o = lo; o < hi; ++o) {
      for (int xi = 0; xi < kXi; ++xi) {
        float* row = rows + xi * g.c;
        const float* first = partials + (xi * g.o + o) * g.c;
        std::copy(first, first + g.c, row);
        for (int64_t grp = 1; grp < groups; ++grp)
          for (int64_t c = 0; c < g.c; ++c) row[c] += first[grp * s_floats + c];
      }
      float s[kXi];
      for (int64_t c = 0; c < g.c; ++c) {
        for (int xi = 0; xi < kXi; ++xi) s[xi] = rows[xi * g.c + c];
        kernel_grad(s, dw + (o * g.c + c) * 9);
      }
    }
  });
}

#else

void conv2d_forward(const ConvGeom&, const float*, const float*, const float*, float*, const Epilogue*) {
  throw InternalError("[winograd] conv2d_forward needs AVX-512; applies() said no");
}
void conv2d_input_grad(const ConvGeom&, const float*, const float*, float*, const Epilogue*) {
  throw InternalError("[winograd] conv2d_input_grad needs AVX-512; applies() said no");
}
void conv2d_weight_grad(const ConvGeom&, const float*, const float*, float*) {
  throw InternalError("[winograd] conv2d_weight_grad needs AVX-512; applies() said no");
}

#endif

}  // namespace dagrad::winograd
