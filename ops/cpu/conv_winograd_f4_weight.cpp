// The weight gradient of a 3x3 stride-1 convolution by Winograd F(4x4, 3x3): the forward
// pass's output tile is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so its gradient with respect to g,
// summed over images and 4x4 tiles t, is
//   dW = Gᵀ S G,   S[ξ][o, c] = Σ_t Z[ξ][o, t] · V[ξ][c, t],
//   V = Bᵀ d_t B (the 6x6 input tile),   Z = A dy_t Aᵀ (the 4x4 dy tile, lifted),
// 36 products per (o, c, tile) where a direct kernel does 144 (and F(2x2) 64). Images go
// in the direct kernels' fixed groups, each into its own partial S, summed in group order,
// so no result depends on the thread count. The transforms run sixteen channels per vector
// on channels-last copies of x and dy.
#include <algorithm>
#include <cstdint>

#include "ops/cpu/channels_last.h"
#include "ops/cpu/conv_direct.h"
#include "ops/cpu/conv_winograd.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/operands.h"
#include "ops/cpu/winograd_f4_transforms.h"
#include "runtime/thread_pool.h"

// GCC 12's _mm512_extractf32x8_ps passes an undefined vector and then warns about it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dagrad::winograd {

#if defined(__AVX512F__)

namespace {

namespace ge = gemm_engine;

constexpr int64_t kChunk = 36;  // tiles per K block (MNIST's 24x24 image): V and Z stay in L2
constexpr int64_t kSkew = 16;   // floats between the transformed matrices beyond their size

struct Layout : Tiles {
  int64_t v_stride;  // floats between V[ξ] and V[ξ+1]
  int64_t z_stride;  // the same for Z
};
Layout layout(const ConvGeom& g) {
  const Tiles t = tiles_of(g);
  return {t, kChunk * t.cp + kSkew, kChunk * t.op + kSkew};
}

// dW = Gᵀ S G for one (o, c), in double: S is 6x6, dW 3x3, Gᵀ's rows
// [¼ -⅙ -⅙ 1/24 1/24 0], [0 -⅙ ⅙ 1/12 -1/12 0], [0 -⅙ -⅙ ⅙ ⅙ 1].
void kernel_grad(const double s[kXi], float dw[9]) {
  auto reduce = [](const double z[6], double r[3]) {
    r[0] = z[0] / 4 - (z[1] + z[2]) / 6 + (z[3] + z[4]) / 24;
    r[1] = (z[2] - z[1]) / 6 + (z[3] - z[4]) / 12;
    r[2] = (z[3] + z[4] - z[1] - z[2]) / 6 + z[5];
  };
  double t[3][6];  // Gᵀ S
  for (int b = 0; b < 6; ++b) {
    double col[6], r[3];
    for (int a = 0; a < 6; ++a) col[a] = s[a * 6 + b];
    reduce(col, r);
    for (int i = 0; i < 3; ++i) t[i][b] = r[i];
  }
  for (int i = 0; i < 3; ++i) {
    double r[3];
    reduce(t[i], r);
    for (int j = 0; j < 3; ++j) dw[i * 3 + j] = static_cast<float>(r[j]);
  }
}

// Tile k of the chunk: V[ξ] as B panels over c (panel j0 of width pw at j0*kc, B(k, c) at
// k*pw + c - j0) and Z[ξ] as A panels over o (panel p at p*kc*kMr, A(o, k) at k*kMr + o % kMr).
void transform_tile(const ConvGeom& g, const Layout& l, const float* xc, const float* dyc, int64_t t, int64_t k,
                    int64_t kc, float* v, float* z) {
  const int64_t ty = t / l.tx, tx = t % l.tx, dy_row = 4 * l.tx * l.op;
  for (int64_t c0 = 0; c0 < l.cp; c0 += ge::kLanes) {
    const int64_t j0 = c0 / ge::kNr * ge::kNr, pw = ge::panel_width(g.c - j0);
    float* dst = v + j0 * kc + k * pw + c0 - j0;
    transform_input_tile(xc + ((4 * ty) * l.wp + 4 * tx) * l.cp + c0, l.wp * l.cp, l.cp,
                         [&](int xi, __m512 val) { _mm512_storeu_ps(dst + xi * l.v_stride, val); });
  }
  for (int64_t o0 = 0; o0 < l.op; o0 += ge::kLanes) {
    const float* base = dyc + (4 * ty) * dy_row + (4 * tx) * l.op + o0;
    __m512 r[4][6];  // dy Aᵀ, row by row
    for (int i = 0; i < 4; ++i) {
      __m512 e[4];
      for (int j = 0; j < 4; ++j) e[j] = _mm512_loadu_ps(base + i * dy_row + j * l.op);
      lift_gradient(e, r[i]);
    }
    float* dst = z + (o0 / ge::kMr * kc + k) * ge::kMr;
    for (int b = 0; b < 6; ++b) {
      const __m512 col[4] = {r[0][b], r[1][b], r[2][b], r[3][b]};
      __m512 lifted[6];
      lift_gradient(col, lifted);
      for (int a = 0; a < 6; ++a) {
        float* d = dst + (a * 6 + b) * l.z_stride;
        _mm256_storeu_ps(d, _mm512_castps512_ps256(lifted[a]));
        _mm256_storeu_ps(d + kc * ge::kMr, _mm512_extractf32x8_ps(lifted[a], 1));
      }
    }
  }
}

// Adds (or, without accumulate, writes) one image's S[ξ][o, c] into s.
void weight_grad_image(const ConvGeom& g, const Layout& l, const float* xc, const float* dyc, float* v, float* z,
                       float* s, bool accumulate) {
  for (int64_t t0 = 0; t0 < l.tiles(); t0 += kChunk) {
    const int64_t kc = std::min(kChunk, l.tiles() - t0);
    for (int64_t k = 0; k < kc; ++k) transform_tile(g, l, xc, dyc, t0 + k, k, kc, v, z);
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t j0 = 0; j0 < g.c; j0 += ge::kNr) {
        const int pw = ge::panel_width(g.c - j0);
        const int nr = static_cast<int>(std::min<int64_t>(pw, g.c - j0));
        for (int64_t i0 = 0; i0 < g.o; i0 += ge::kMr)
          ge::micro_kernel(pw, kc, z + xi * l.z_stride + i0 * kc, v + xi * l.v_stride + j0 * kc,
                           s + (xi * g.o + i0) * g.c + j0, g.c, static_cast<int>(std::min<int64_t>(ge::kMr, g.o - i0)),
                           nr, accumulate || t0 > 0, nullptr);
      }
  }
}

// dy and x float32, or bfloat16 (bits) widened exactly image by image.
template <class T>
void weight_grad_images(const ConvGeom& g, const T* dy, const T* x, float* dw) {
  const Layout l = layout(g);
  const int64_t xc_floats = l.hp * l.wp * l.cp, dyc_floats = 16 * l.tiles() * l.op;
  const int64_t s_floats = kXi * g.o * g.c, groups = ge::ceil_div(g.n, conv_direct::kWeightGradGroup);
  float* partials = ge::thread_scratch().get(ge::Slot::partials, groups * s_floats);
  parallel_for(0, groups, 1, [&](int64_t lo, int64_t hi) {
    ge::Scratch& sc = ge::thread_scratch();
    float* xc = sc.get(ge::Slot::image, xc_floats + dyc_floats);
    float* dyc = xc + xc_floats;
    float* v = sc.get(ge::Slot::output, kXi * (l.v_stride + l.z_stride));
    float* z = v + kXi * l.v_stride;
    const int64_t x_image = g.c * g.in_pixels(), dy_image = g.o * g.out_pixels();
    float* wide_x = widen_buffer<T>(ge::Slot::widen_a, x_image);
    float* wide_dy = widen_buffer<T>(ge::Slot::widen_b, dy_image);
    for (int64_t grp = lo; grp < hi; ++grp) {
      const int64_t first = grp * conv_direct::kWeightGradGroup;
      const int64_t last = std::min(g.n, first + conv_direct::kWeightGradGroup);
      for (int64_t n = first; n < last; ++n) {
        const float* x_n = widened(x + n * x_image, x_image, wide_x);
        const float* dy_n = widened(dy + n * dy_image, dy_image, wide_dy);
        channels_last(x_n, g.c, g.h, g.w, g.ph, g.pw, l.hp, l.wp, l.cp, xc);
        channels_last(dy_n, g.o, g.oh, g.ow, 0, 0, 4 * l.ty, 4 * l.tx, l.op, dyc);
        weight_grad_image(g, l, xc, dyc, v, z, partials + grp * s_floats, n > first);
      }
    }
  });
  // Groups summed in group order (in double, a row of c at a time), then dW = Gᵀ S G.
  parallel_for(0, g.o, 1, [&](int64_t lo, int64_t hi) {
    double* rows = reinterpret_cast<double*>(ge::thread_scratch().get(ge::Slot::pack_a, 2 * kXi * g.c));
    double s[kXi];
    for (int64_t o = lo; o < hi; ++o) {
      for (int xi = 0; xi < kXi; ++xi) {
        double* row = rows + xi * g.c;
        const float* first = partials + (xi * g.o + o) * g.c;
        for (int64_t c = 0; c < g.c; ++c) row[c] = first[c];
        for (int64_t grp = 1; grp < groups; ++grp)
          for (int64_t c = 0; c < g.c; ++c) row[c] += first[grp * s_floats + c];
      }
      for (int64_t c = 0; c < g.c; ++c) {
        for (int xi = 0; xi < kXi; ++xi) s[xi] = rows[xi * g.c + c];
        kernel_grad(s, dw + (o * g.c + c) * 9);
      }
    }
  });
}

}  // namespace

void conv2d_weight_grad(const ConvGeom& g, const float* dy, const float* x, float* dw) {
  weight_grad_images(g, dy, x, dw);
}

void conv2d_weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  weight_grad_images(g, dy, x, dw);
}

#endif

}  // namespace dagrad::winograd
