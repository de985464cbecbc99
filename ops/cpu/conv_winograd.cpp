// Winograd F(2x2, 3x3) on dagrad's GEMM micro-kernel.
//
// Forward, per image, in chunks of up to kNr output tiles (a tile: 2x2 outputs, read from
// a 4x4 window of the padded image at (2*ty, 2*tx)):
//   V[ξ][c, t] = (Bᵀ d_{c,t} B)[ξ]        input transform, 16 values ξ per channel and tile,
//                                          written as the micro-kernel's B panel
//   M[ξ][o, t] = U[ξ][o, :] · V[ξ][:, t]   16 GEMMs, U[ξ] = (G g G^T)[ξ] packed once per call
//   y_{o,t}    = Aᵀ M_{o,t} A + bias[o]    output transform, straight into y
// The input gradient is the forward convolution of dy, padded by 2 - pad, with the kernel
// flipped and its channel axes swapped. The weight gradient sums, over images and tiles,
//   S[ξ][o, c] = Σ_t Z[ξ][o, t] · V[ξ][c, t]   with Z = A dy_t Aᵀ (the 2x2 dy tile, lifted),
// then dW = Gᵀ S G; images in fixed groups as in the direct kernels, so no result depends on
// the thread count. Transforms run sixteen tiles (forward) or sixteen channels (weight
// gradient, on a channels-last copy) per vector.
#include "ops/cpu/conv_winograd.h"

#include <algorithm>
#include <cstring>

#include "ops/cpu/conv_direct.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/transpose.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace dagrad::winograd {

namespace {

namespace ge = gemm_engine;

constexpr int64_t kMinChannels = 8;  // below, the transforms cost more than they save
constexpr int kXi = 16;              // values of a transformed tile
// Floats between the 16 transformed matrices of a buffer beyond their size: their rows,
// written together, would otherwise often share one L1 set (strides of 4 KiB multiples).
constexpr int64_t kSkew = 16;
constexpr int64_t kSlack = 64;  // floats after a padded image (>= the 34 a run loads)

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

// U = G g Gᵀ of one 3x3 kernel g (row-major), G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
void transform_kernel(const float g[9], float u[16]) {
  float t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    t[0][j] = g[j];
    t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
    t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
    t[3][j] = g[6 + j];
  }
  for (int i = 0; i < 4; ++i) {
    u[i * 4 + 0] = t[i][0];
    u[i * 4 + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
    u[i * 4 + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
    u[i * 4 + 3] = t[i][2];
  }
}

// The 16 transformed kernels as A panels of the micro-kernel: for each ξ, rows o (in
// panels of kMr, zero past o) by k = c. kernel(o, c, taps) fills the 3x3 taps.
template <class Kernel>
float* transformed_kernels(int64_t o, int64_t c, Kernel&& kernel) {
  const int64_t op = ge::round_up(o, ge::kMr);
  float* u = ge::thread_scratch().get(ge::Slot::shared, kXi * op * c);
  std::fill(u, u + kXi * op * c, 0.f);
  float taps[9], t[16];
  for (int64_t oo = 0; oo < o; ++oo)
    for (int64_t cc = 0; cc < c; ++cc) {
      kernel(oo, cc, taps);
      transform_kernel(taps, t);
      const int64_t at = (oo / ge::kMr) * ge::kMr * c + cc * ge::kMr + oo % ge::kMr;
      for (int xi = 0; xi < kXi; ++xi) u[xi * op * c + at] = t[xi];
    }
  return u;
}

// Tiles and the padded image they read: ty x tx tiles; rows of wp floats. A run of tiles
// loads 34 columns from its first tile on: past the row's end it reads the next row (lanes
// it never stores), past the image the slack after it (kSlack).
struct Tiling {
  int64_t ty, tx, hp, wp;
  int64_t tiles() const { return ty * tx; }
};
Tiling tiling(const ConvGeom& g) {
  const int64_t ty = (g.oh + 1) / 2, tx = (g.ow + 1) / 2;
  return {ty, tx, 2 * ty + 2, 2 * tx + 2};
}

// A run of at most 16 tiles of one tile row, at column j of its chunk.
struct Run {
  int64_t ty, tx0, j;
  int n;
};
// The runs of tiles [t0, t1), in order (at most kMaxRuns: one per tile when rows are one tile wide).
int runs_of(const Tiling& tl, int64_t t0, int64_t t1, Run* out) {
  int count = 0;
  for (int64_t t = t0; t < t1;) {
    const int64_t ty = t / tl.tx, tx0 = t % tl.tx;
    const int n = static_cast<int>(std::min<int64_t>({16, tl.tx - tx0, t1 - t}));
    out[count++] = Run{ty, tx0, t - t0, n};
    t += n;
  }
  return count;
}
constexpr int kMaxRuns = 48;  // kNr tiles make at most kNr runs (one tile per row)

#if defined(__AVX512F__)

__mmask16 lanes(int64_t n) {
  return n <= 0 ? 0 : n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

// The first n lanes of v to p (masked stores are slow on some CPUs: only for odd counts).
void store_lanes(float* p, int64_t n, __m512 v) {
  if (n >= 16)
    _mm512_storeu_ps(p, v);
  else if (n == 8)
    _mm256_storeu_ps(p, _mm512_castps512_ps256(v));
  else if (n > 0)
    _mm512_mask_storeu_ps(p, lanes(n), v);
}

// d[0..3][run tile] = row[2t + 0..3] for the 16 tiles of a run: two pairs of loads, each
// split into even and odd columns.
void load_tile_row(const float* row, __m512 d[4]) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 a = _mm512_loadu_ps(row), b = _mm512_loadu_ps(row + 16);
  const __m512 a2 = _mm512_loadu_ps(row + 2), b2 = _mm512_loadu_ps(row + 18);
  d[0] = _mm512_permutex2var_ps(a, even, b);
  d[1] = _mm512_permutex2var_ps(a, odd, b);
  d[2] = _mm512_permutex2var_ps(a2, even, b2);
  d[3] = _mm512_permutex2var_ps(a2, odd, b2);
}

// v = Bᵀ d B, Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], for 16 tiles (or channels) at
// once: load(i, d) gives row i of d, store(ξ, v) takes v[ξ]. Each row is transformed as it
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

// One forward convolution (already in the padded layout `img`, c channels of hp x wp)
// of image n into y.
void forward_image(const ConvGeom& g, const Tiling& tl, const float* img, const float* u, const float* bias,
                   float* y_n, float* v, float* m) {
  const int64_t op = ge::round_up(g.o, ge::kMr);
  const int64_t kc_max = ge::ceil_div(g.c, ge::ceil_div(g.c, ge::kMaxKc));
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t t0 = 0; t0 < tl.tiles(); t0 += ge::kNr) {
    const int64_t t1 = std::min(tl.tiles(), t0 + ge::kNr);
    const int w = ge::panel_width(t1 - t0);
    Run runs[kMaxRuns];
    const int nruns = runs_of(tl, t0, t1, runs);
    // V[ξ][c, j] at v[ξ*(C*w + kSkew) + c*w + j]. A run stores all 16 lanes where the lanes past it
    // stay inside the row: the next run overwrites them.
    for (int ri = 0; ri < nruns; ++ri) {
      const Run& r = runs[ri];
      const int64_t n = r.j + 16 <= w ? 16 : r.n;
      const int64_t rows = tl.wp, plane = tl.hp * tl.wp, xi_stride = g.c * w + kSkew;
      const float* base = img + 2 * r.ty * rows + 2 * r.tx0;
      float* dst = v + r.j;
      for (int64_t c = 0; c < g.c; ++c, base += plane, dst += w)
        input_transform([&](int i, __m512 d[4]) { load_tile_row(base + i * rows, d); },
                        [&](int xi, __m512 t) { store_lanes(dst + xi * xi_stride, n, t); });
    }
    for (int64_t i0 = 0; i0 < g.o; i0 += ge::kMr) {
      const int mr = static_cast<int>(std::min<int64_t>(ge::kMr, g.o - i0));
      // M[ξ][row, j] at m[(ξ*kMr + row)*w + j].
      for (int xi = 0; xi < kXi; ++xi)
        for (int64_t k0 = 0; k0 < g.c; k0 += kc_max)
          ge::micro_kernel(w, std::min(kc_max, g.c - k0), u + xi * op * g.c + i0 * g.c + k0 * ge::kMr,
                           v + xi * (g.c * w + kSkew) + k0 * w, m + xi * ge::kMr * w, w, mr, static_cast<int>(t1 - t0), k0 > 0,
                           nullptr);
      for (int row = 0; row < mr; ++row) {
        const int64_t oc = i0 + row;
        const __m512 b = _mm512_set1_ps(bias ? bias[oc] : 0.f);
        for (int ri = 0; ri < nruns; ++ri) {
          const Run& r = runs[ri];
          __m512 s[2][4];
          for (int j = 0; j < 4; ++j) {
            const float* p = m + (j * ge::kMr + row) * w + r.j;  // ξ = 4a + j, a = 0..3
            const __m512 m0 = _mm512_loadu_ps(p), m1 = _mm512_loadu_ps(p + 4 * ge::kMr * w);
            const __m512 m2 = _mm512_loadu_ps(p + 8 * ge::kMr * w), m3 = _mm512_loadu_ps(p + 12 * ge::kMr * w);
            s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);  // Aᵀ = [1 1 1 0; 0 1 -1 -1]
            s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
          }
          const int64_t cols = g.ow - 2 * r.tx0;
          for (int i = 0; i < 2; ++i) {
            const int64_t oy = 2 * r.ty + i;
            if (oy >= g.oh) break;
            const __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]), b);
            const __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]), b);
            float* out = y_n + (oc * g.oh + oy) * g.ow + 2 * r.tx0;
            store_lanes(out, std::min<int64_t>(cols, 2 * r.n), _mm512_permutex2var_ps(y0, lo_idx, y1));
            store_lanes(out + 16, std::min<int64_t>(cols, 2 * r.n) - 16, _mm512_permutex2var_ps(y0, hi_idx, y1));
          }
        }
      }
    }
  }
}

// The forward pass over all images, with U already transformed (x: images of g.c planes).
void forward(const ConvGeom& g, const float* x, const float* u, const float* bias, float* y, const Epilogue* epilogue) {
  const Tiling tl = tiling(g);
  const int64_t image = g.c * tl.hp * tl.wp + kSlack, per_image = g.o * g.out_pixels();
  // M's last runs load up to 15 floats past the chunk.
  const int64_t v_floats = kXi * (g.c * ge::kNr + kSkew), m_floats = kXi * ge::kMr * ge::kNr + 16;
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    ge::Scratch& s = ge::thread_scratch();
    float* img = s.get(ge::Slot::image, image);
    float* v = s.get(ge::Slot::output, v_floats + m_floats);
    for (int64_t n = lo; n < hi; ++n) {
      conv_direct::pad_image(x + n * g.c * g.in_pixels(), g.c, g.h, g.w, g.ph, g.pw, tl.hp, tl.wp, kSlack, img);
      forward_image(g, tl, img, u, bias, y + n * per_image, v, v + v_floats);
      if (epilogue) epilogue->run(n * per_image, (n + 1) * per_image);
    }
  });
}


// ---- weight gradient ----

constexpr int64_t kWeightChunk = 64;  // tiles per K block: V and Z of a block stay in L2

// dst[(y*wd + x)*cp + c] = src[c, y - top, x - left] (zero outside, and for channels past
// ch): a padded channels-last copy, hd x wd pixels of cp channels.
void channels_last(const float* src, int64_t ch, int64_t h, int64_t w, int64_t top, int64_t left, int64_t hd,
                   int64_t wd, int64_t cp, float* dst) {
  const bool whole = top == 0 && left == 0 && wd == w && hd == h && cp == ch;
  if (whole) {  // one transpose, no padding (the MNIST CNN's shapes)
    transpose_32bit(reinterpret_cast<const uint32_t*>(src), h * w, ch, h * w, reinterpret_cast<uint32_t*>(dst), cp);
    return;
  }
  std::fill(dst, dst + hd * wd * cp, 0.f);
  for (int64_t y = 0; y < h && y + top < hd; ++y)
    transpose_32bit(reinterpret_cast<const uint32_t*>(src + y * w), h * w, ch, std::min(w, wd - left),
                    reinterpret_cast<uint32_t*>(dst + ((y + top) * wd + left) * cp), cp);
}

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
  if (epilogue) epilogue->applied = true;  // image by image
  const float* u = transformed_kernels(g.o, g.c, [&](int64_t o, int64_t c, float taps[9]) {
    std::memcpy(taps, w + (o * g.c + c) * 9, 9 * sizeof(float));
  });
  forward(g, x, u, bias, y, epilogue);
}

void conv2d_input_grad(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  // dx = conv(dy padded by 2 - pad, W flipped, channels swapped).
  ConvGeom f = g;
  f.c = g.o, f.h = g.oh, f.w = g.ow, f.o = g.c, f.oh = g.h, f.ow = g.w, f.ph = 2 - g.ph, f.pw = 2 - g.pw;
  const float* u = transformed_kernels(f.o, f.c, [&](int64_t c, int64_t o, float taps[9]) {
    const float* k = w + (o * g.c + c) * 9;
    for (int t = 0; t < 9; ++t) taps[t] = k[8 - t];
  });
  forward(f, dy, u, nullptr, dx, nullptr);
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
void conv2d_input_grad(const ConvGeom&, const float*, const float*, float*) {
  throw InternalError("[winograd] conv2d_input_grad needs AVX-512; applies() said no");
}
void conv2d_weight_grad(const ConvGeom&, const float*, const float*, float*) {
  throw InternalError("[winograd] conv2d_weight_grad needs AVX-512; applies() said no");
}

#endif

}  // namespace dagrad::winograd
