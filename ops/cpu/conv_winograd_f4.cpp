// Winograd F(4x4, 3x3) forward on dagrad's GEMM micro-kernel: each 4x4 output tile is
// Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A over a 6x6 input tile d, so 36 multiplies replace 144 (F(2x2)'s
// 16 replace 36): 1.78 times fewer multiply-adds than F(2x2), and fewer transform
// operations per output. The matrices are Lavin and Gray's (interpolation points 0, ±1, ±2).
//
// Per image, everything channels-last so the transforms run sixteen channels per vector
// whatever the image's width (MNIST's 24-wide outputs are only six tiles per row):
//   xc  = the padded image, pixels x channels
//   V[ξ][t, c] = (Bᵀ d_{t,c} B)[ξ]                     for a group of kMr tiles t
//   M[ξ][t, o] = Σ_c V[ξ][t, c] · U[ξ][c, o]            36 GEMMs, V's rows read in place
//   yc[pixel, o] = (Aᵀ M_{t,o} A) + bias[o]             the group's 4x4 tiles
// then yc is transposed into y's planes and the epilogue runs on the image.
#include <algorithm>
#include <cstdint>

#include "ops/cpu/channels_last.h"
#include "ops/cpu/conv_winograd.h"
#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/operands.h"
#include "ops/cpu/winograd_f4_transforms.h"
#include "runtime/thread_pool.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace dagrad::winograd {

#if defined(__AVX512F__)

namespace {

namespace ge = gemm_engine;

// U = G g Gᵀ of one 3x3 kernel g, in double (then rounded once): G's rows are
// [¼ 0 0], -⅙[1 1 1], -⅙[1 -1 1], [1/24 1/12 1/6], [1/24 -1/12 1/6], [0 0 1].
void transform_kernel(const float g[9], float u[kXi]) {
  auto lift = [](double a, double b, double c, double out[6]) {
    out[0] = a / 4;
    out[1] = -(a + b + c) / 6;
    out[2] = -(a - b + c) / 6;
    out[3] = a / 24 + b / 12 + c / 6;
    out[4] = a / 24 - b / 12 + c / 6;
    out[5] = c;
  };
  double t[6][3];  // G g
  for (int j = 0; j < 3; ++j) {
    double col[6];
    lift(g[j], g[3 + j], g[6 + j], col);
    for (int i = 0; i < 6; ++i) t[i][j] = col[i];
  }
  for (int i = 0; i < 6; ++i) {
    double row[6];
    lift(t[i][0], t[i][1], t[i][2], row);
    for (int j = 0; j < 6; ++j) u[i * 6 + j] = static_cast<float>(row[j]);
  }
}

// U[ξ] as B panels over o: panel j0 (width panel_width(o - j0)) at ξ*c*op + j0*c, element
// (c, o) at c*width + o - j0; zero past o.
float* transformed_kernels(const ConvGeom& g, const float* w) {
  const int64_t op = ge::round_up(g.o, ge::kLanes);
  float* u = ge::thread_scratch().get(ge::Slot::shared, kXi * g.c * op);
  std::fill(u, u + kXi * g.c * op, 0.f);
  // In parallel over the input channels, whose rows of a panel lie on cache lines of their
  // own (output channels share lines): a few percent of a batch's pass, again every call.
  parallel_for(0, g.c, 1, [&](int64_t lo, int64_t hi) {
    float t[kXi];
    for (int64_t o = 0; o < g.o; ++o) {
      const int64_t j0 = o / ge::kNr * ge::kNr, width = ge::panel_width(g.o - j0);
      for (int64_t c = lo; c < hi; ++c) {
        transform_kernel(w + (o * g.c + c) * 9, t);
        for (int xi = 0; xi < kXi; ++xi) u[xi * g.c * op + j0 * g.c + c * width + o - j0] = t[xi];
      }
    }
  });
  return u;
}

struct Layout : Tiles {
  int64_t v_stride;  // floats between V[ξ] and V[ξ+1] (kMr tiles of cp, skewed off 4 KiB)
  int64_t m_stride;  // the same for M
};
Layout layout(const ConvGeom& g) {
  const Tiles t = tiles_of(g);
  return {t, ge::kMr * t.cp + 16, ge::kMr * t.op + 16};
}

// y_n's output rows [4*ty0, 4*ty1) from yc. Each tile row goes out as soon as it is
// finished, so the stores into y (not in cache) overlap the next tiles' arithmetic.
void store_rows(const ConvGeom& g, const Layout& l, const float* yc, int64_t ty0, int64_t ty1, float* y_n) {
  const int64_t yc_row = 4 * l.tx * l.op, oy1 = std::min(g.oh, 4 * ty1);
  auto out = [&](int64_t oy, int64_t pixels) {
    transpose_32bit(reinterpret_cast<const uint32_t*>(yc + oy * yc_row), l.op, pixels, g.o,
                    reinterpret_cast<uint32_t*>(y_n + oy * g.ow), g.out_pixels());
  };
  if (g.ow == 4 * l.tx)  // whole rows follow each other in both: one transpose
    return out(4 * ty0, (oy1 - 4 * ty0) * g.ow);
  for (int64_t oy = 4 * ty0; oy < oy1; ++oy) out(oy, g.ow);
}

// One image: xc (channels-last, padded) to y_n, through yc (channels-last, 4*ty x 4*tx
// pixels of op).
void image_forward(const ConvGeom& g, const Layout& l, const float* xc, const float* u, const float* bias, float* v,
                   float* m, float* yc, float* y_n) {
  const int64_t tiles = l.tiles(), yc_row = 4 * l.tx * l.op;
  for (int64_t t0 = 0; t0 < tiles; t0 += ge::kMr) {
    const int mr = static_cast<int>(std::min<int64_t>(ge::kMr, tiles - t0));
    for (int r = 0; r < mr; ++r) {
      const int64_t ty = (t0 + r) / l.tx, tx = (t0 + r) % l.tx;
      for (int64_t c0 = 0; c0 < l.cp; c0 += ge::kLanes) {
        float* dst = v + r * l.cp + c0;
        transform_input_tile(xc + ((4 * ty) * l.wp + 4 * tx) * l.cp + c0, l.wp * l.cp, l.cp,
                             [&](int xi, __m512 t) { _mm512_storeu_ps(dst + xi * l.v_stride, t); });
      }
    }
    // The rows of y that store_rows writes after this group are fetched for writing while
    // the GEMMs run (y is rarely in cache, and the stores alone would wait on memory).
    const int64_t ty0 = t0 / l.tx, ty1 = t0 + mr == tiles ? l.ty : (t0 + mr) / l.tx;
    const int64_t p0 = 4 * ty0 * g.ow, p1 = std::min(g.oh, 4 * ty1) * g.ow;
    const int64_t per_plane = p1 > p0 ? (p1 - p0) / 16 + 1 : 0, lines = per_plane * g.o;
    int64_t fetched = 0;
    const float* rows[ge::kMr];
    for (int xi = 0; xi < kXi; ++xi) {
      for (const int64_t until = lines * (xi + 1) / kXi; fetched < until; ++fetched)
        __builtin_prefetch(y_n + fetched / per_plane * g.out_pixels() + p0 + fetched % per_plane * 16, 1, 3);
      for (int r = 0; r < ge::kMr; ++r) rows[r] = v + xi * l.v_stride + std::min(r, mr - 1) * l.cp;
      const float* u_xi = u + xi * g.c * l.op;
      for (int64_t j0 = 0; j0 < g.o; j0 += ge::kNr) {
        const int width = ge::panel_width(g.o - j0);
        const int nr = static_cast<int>(std::min<int64_t>(width, g.o - j0));
        for (int64_t k0 = 0; k0 < g.c; k0 += ge::kMaxKc) {
          const float* a_rows[ge::kMr];
          for (int r = 0; r < ge::kMr; ++r) a_rows[r] = rows[r] + k0;
          ge::micro_kernel_direct_a(width, std::min(ge::kMaxKc, g.c - k0), a_rows, u_xi + j0 * g.c + k0 * width,
                                    m + xi * l.m_stride + j0, l.op, mr, nr, k0 > 0);
        }
      }
    }
    for (int r = 0; r < mr; ++r) {
      const int64_t ty = (t0 + r) / l.tx, tx = (t0 + r) % l.tx;
      for (int64_t o0 = 0; o0 < g.o; o0 += ge::kLanes) {
        const float* src = m + r * l.op + o0;
        __m512 w[4][6];  // Aᵀ M, column by column
        for (int b = 0; b < 6; ++b) {
          __m512 z[6], out[4];
          for (int a = 0; a < 6; ++a) z[a] = _mm512_loadu_ps(src + (a * 6 + b) * l.m_stride);
          reduce_output(z, out);
          for (int i = 0; i < 4; ++i) w[i][b] = out[i];
        }
        const __m512 b = bias ? _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << std::min<int64_t>(16, g.o - o0)) - 1u),
                                                      bias + o0)
                              : _mm512_setzero_ps();
        float* out_tile = yc + (4 * ty) * yc_row + (4 * tx) * l.op + o0;
        for (int i = 0; i < 4; ++i) {
          __m512 y[4];
          reduce_output(w[i], y);
          for (int j = 0; j < 4; ++j) _mm512_storeu_ps(out_tile + i * yc_row + j * l.op, _mm512_add_ps(y[j], b));
        }
      }
    }
    if (ty1 > ty0) store_rows(g, l, yc, ty0, ty1, y_n);
  }
}

}  // namespace

namespace {

// The forward pass over all images; x is float32, or bfloat16 widened image by image.
template <class T>
void forward_images(const ConvGeom& g, const T* x, const float* w, const float* bias, float* y,
                    const Epilogue* epilogue) {
  if (epilogue) epilogue->applied = true;  // image by image
  const Layout l = layout(g);
  const float* u = transformed_kernels(g, w);
  const int64_t xc_floats = l.hp * l.wp * l.cp, yc_floats = 16 * l.tiles() * l.op;
  const int64_t v_floats = kXi * l.v_stride, m_floats = kXi * l.m_stride;
  const int64_t image = g.c * g.in_pixels(), per_image = g.o * g.out_pixels();
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    ge::Scratch& s = ge::thread_scratch();
    float* xc = s.get(ge::Slot::image, xc_floats + yc_floats);
    float* yc = xc + xc_floats;
    float* v = s.get(ge::Slot::output, v_floats + m_floats);
    float* m = v + v_floats;
    float* wide = widen_buffer<T>(ge::Slot::widen_a, image);
    for (int64_t n = lo; n < hi; ++n) {
      channels_last(widened(x + n * image, image, wide), g.c, g.h, g.w, g.ph, g.pw, l.hp, l.wp, l.cp, xc);
      image_forward(g, l, xc, u, bias, v, m, yc, image_destination(epilogue, y, n, per_image));
      if (epilogue) epilogue->run(n * per_image, (n + 1) * per_image);
    }
  });
}

}  // namespace

void forward_f4(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                const Epilogue* epilogue) {
  forward_images(g, x, w, bias, y, epilogue);
}

void forward_f4(const ConvGeom& g, const uint16_t* x, const float* w, const float* bias, float* y,
                const Epilogue* epilogue) {
  forward_images(g, x, w, bias, y, epilogue);
}

#endif

}  // namespace dagrad::winograd
