// bfloat16 convolutions on vdpbf16ps (ops/cpu/gemm_bf16.h), with the structure of the
// float32 direct convolutions (ops/cpu/conv_f32.cpp): each image is zero-padded once into
// per-thread scratch and the micro-kernel reads it in place at tap offsets. vdpbf16ps takes
// k in pairs, so the operand read in place is laid out in pairs:
//   forward          the image interleaved by channel pairs: word (c, h, w) of pair plane
//                    c/2 holds channels 2c' and 2c'+1; k pairs run over (channel pair, i, j),
//                    every pair the same plane shifted, so B is still one unaligned load;
//   input gradient   the same over dy's output-channel pairs (full correlation with the
//                    flipped kernel);
//   weight gradient  k runs over pixels: A rows are the plain padded image at tap offsets,
//                    two neighbouring pixels per word; dyᵀ is packed in pixel pairs.
// Where the CPU has AMX, the stride-1 cases with enough channels run on tiles instead
// (ops/cpu/conv_amx.h); on Intel CPUs without it, every case widens (vdpbf16ps_pays(),
// ops/cpu/gemm_bf16.h). One input channel (the first layer) and strides other than 1 widen
// to float32 and use the float32 kernels: there, pairs would be half padding. So do all
// three passes of a convolution Winograd takes (ops/cpu/conv_winograd.h; without AMX):
// float32 F(4x4, 3x3) does a quarter of the multiply-adds and outruns vdpbf16ps's twice
// float32's rate (on AMD's Zen 4, conv2's input gradient 1.2x, its weight gradient 1.4x,
// bench/NOTES.md). The float32 kernels widen the activations image by image as they pad
// them (ops/cpu/conv_f32.h).
#include <algorithm>
#include <climits>
#include <cstring>

#include "ops/cpu/amx.h"
#include "ops/cpu/conv_amx.h"
#include "ops/cpu/conv_direct.h"
#include "ops/cpu/conv_f32.h"
#include "ops/cpu/conv_winograd.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/operands.h"
#include "ops/cpu/transpose.h"
#include "runtime/float16.h"
#include "runtime/thread_pool.h"

namespace dagrad::gemm_bf16 {

namespace {

namespace ge = gemm_engine;
using ge::Slot;
using namespace conv_direct;

bool offsets_fit(int64_t words) { return words < INT32_MAX / 2; }

bool direct_forward_ok(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.c > 1 && offsets_fit(ge::ceil_div(g.c, 2) * (g.h + 2 * g.ph) * (g.w + 2 * g.pw));
}

bool direct_input_grad_ok(const ConvGeom& g) {
  const int64_t ph = g.dh * (g.kh - 1) - g.ph, pw = g.dw * (g.kw - 1) - g.pw;
  return g.sh == 1 && g.sw == 1 && ph >= 0 && pw >= 0 &&
         offsets_fit(ge::ceil_div(g.o, 2) * (g.oh + 2 * ph) * (g.ow + 2 * pw));
}

// Whether the vdpbf16ps direct kernels take a stride-1 case rather than float32 Winograd
// (unless forced, for tests and `dagrad bench --conv`).
bool direct_pays(const ConvGeom& g) { return vdpbf16ps_pays() && (vdpbf16ps_forced() || !winograd::applies(g)); }

bool direct_weight_grad_ok(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && offsets_fit(g.c * (g.h + 2 * g.ph) * (g.w + 2 * g.pw));
}

// C[m, n] = A·B (+ bias[row]) with A in whole-K panels of kp pairs (panel at apk + i0*kp)
// and B(p, q) = b[koff[p] + q].
void gemm_direct_b(int64_t m, int64_t n, int64_t kp, const uint32_t* apk, const uint32_t* b, const int32_t* koff,
                   float* c, int64_t ldc, const float* bias) {
  const int64_t kc_max = ge::ceil_div(kp, ge::ceil_div(kp, kMaxKcPairs));
  for_each_tile<kMr, panel_width>(m, n, kp, kc_max, [&](const Tile& t) {
    micro_kernel_direct_b(t.w, t.kc, apk + t.i0 * kp + t.k0 * kMr, b + t.j0, koff + t.k0, c + t.i0 * ldc + t.j0, ldc,
                          t.mr, t.nr, t.k0 > 0, t.k0 == 0 && bias ? bias + t.i0 : nullptr);
  });
}

// Panels of kMr rows of M[row, (pair, i, j)] = (src(row, 2·pair, i, j), src(row, 2·pair+1, i, j)),
// src(row, ch, i, j) from `at`, zero past `rows` or `chs`.
template <class At>
void pack_pair_panels(int64_t rows, int64_t chs, int64_t kh, int64_t kw, At&& at, uint32_t* apk) {
  const int64_t pairs = ge::ceil_div(chs, 2), kp = pairs * kh * kw;
  for (int64_t r0 = 0; r0 < rows; r0 += kMr) {
    uint32_t* panel = apk + r0 * kp;
    for (int64_t cp = 0; cp < pairs; ++cp)
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j) {
          uint32_t* d = panel + ((cp * kh + i) * kw + j) * kMr;
          for (int r = 0; r < kMr; ++r) {
            const int64_t row = r0 + r;
            if (row >= rows) {
              d[r] = 0;
              continue;
            }
            const uint16_t lo = at(row, 2 * cp, i, j), hi = 2 * cp + 1 < chs ? at(row, 2 * cp + 1, i, j) : 0;
            d[r] = pair_word(lo, hi);
          }
        }
  }
}

void forward_direct(const ConvGeom& g, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
                    const Epilogue* epilogue) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, nq = g.oh * wp, pairs = ge::ceil_div(g.c, 2);
  const int64_t kp = pairs * g.kh * g.kw, image = pairs * hp * wp, slack = g.dw * (g.kw - 1) + kNr;
  const DirectA a = direct_a_scratch<kMr>(g.o, kp);
  uint32_t* wpk = reinterpret_cast<uint32_t*>(a.panels);
  tap_offsets(pairs, g.kh, g.kw, hp * wp, wp, g.dh, g.dw, a.koff);
  pack_pair_panels(g.o, g.c, g.kh, g.kw,
                   [&](int64_t o, int64_t c, int64_t i, int64_t j) { return w[((o * g.c + c) * g.kh + i) * g.kw + j]; },
                   wpk);
  direct_by_image<uint32_t>(
      g.n, image + slack, {g.o, g.oh, wp, g.ow, y}, epilogue,
      [&](int64_t n, uint32_t* img) {
        pad_image_pairs(x + n * g.c * g.h * g.w, g.c, g.h, g.w, g.ph, g.pw, hp, wp, slack, img);
      },
      [&](const uint32_t* img, float* yq) { gemm_direct_b(g.o, nq, kp, wpk, img, a.koff, yq, nq, bias); });
}

// dx[c,h,w] = Σ_{o,i,j} W[o,c,KH-1-i,KW-1-j] · dy_padded[o, h + i*dh, w + j*dw], in pairs of o.
void input_grad_direct(const ConvGeom& g, const uint16_t* dy, const uint16_t* w, float* dx, const Epilogue* epilogue) {
  const int64_t top = g.dh * (g.kh - 1) - g.ph, left = g.dw * (g.kw - 1) - g.pw;
  const int64_t hq = g.oh + 2 * top, wq = g.ow + 2 * left, nq = g.h * wq, pairs = ge::ceil_div(g.o, 2);
  const int64_t kp = pairs * g.kh * g.kw, image = pairs * hq * wq, slack = g.dw * (g.kw - 1) + kNr;
  const DirectA a = direct_a_scratch<kMr>(g.c, kp);
  uint32_t* wfk = reinterpret_cast<uint32_t*>(a.panels);
  tap_offsets(pairs, g.kh, g.kw, hq * wq, wq, g.dh, g.dw, a.koff);
  pack_pair_panels(g.c, g.o, g.kh, g.kw,
                   [&](int64_t c, int64_t o, int64_t i, int64_t j) {
                     return w[((o * g.c + c) * g.kh + g.kh - 1 - i) * g.kw + g.kw - 1 - j];
                   },
                   wfk);
  direct_by_image<uint32_t>(
      g.n, image + slack, {g.c, g.h, wq, g.w, dx}, epilogue,
      [&](int64_t n, uint32_t* img) {
        pad_image_pairs(dy + n * g.o * g.out_pixels(), g.o, g.oh, g.ow, top, left, hq, wq, slack, img);
      },
      [&](const uint32_t* img, float* dxq) { gemm_direct_b(g.c, nq, kp, wfk, img, a.koff, dxq, nq, nullptr); });
}

// dy_n[O, OH, OW] as B panels of the weight gradient in pixel pairs: panel j0 (width w)
// holds, for pair p, the words (dyq[o][2p], dyq[o][2p+1]) of channels o in [j0, j0 + w),
// where dyq[o][q = oh*wp + ow] = dy_n[o, oh, ow], zero for wrapped columns, for q past the
// image and for channels past O. Panels follow each other: panel j0 starts at j0 * kp.
// Each channel is first laid out as its flattened row in `rows` (w rows of 2·kp halves:
// kp words each), then the words are transposed in 16 x 16 blocks.
void pack_dy_pairs(const ConvGeom& g, const uint16_t* dy_n, int64_t wp, int64_t kp, uint32_t* bt, uint16_t* rows) {
  const int64_t half_row = 2 * kp;
  for (int64_t j0 = 0; j0 < g.o;) {
    const int w = panel_width(g.o - j0);
    const int nr = static_cast<int>(std::min<int64_t>(w, g.o - j0));
    for (int jj = 0; jj < w; ++jj) {
      uint16_t* row = rows + jj * half_row;
      std::fill(row, row + half_row, uint16_t{0});
      if (jj >= nr) continue;
      const uint16_t* src = dy_n + (j0 + jj) * g.out_pixels();
      for (int64_t oh = 0; oh < g.oh; ++oh)
        std::memcpy(row + oh * wp, src + oh * g.ow, static_cast<size_t>(g.ow) * sizeof(uint16_t));
    }
    transpose_32bit(reinterpret_cast<const uint32_t*>(rows), kp, w, kp, bt + j0 * kp, w);
    j0 += w;
  }
}

void weight_grad_direct(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, nq = g.oh * wp, kp = ge::ceil_div(nq, 2);
  const int64_t taps = g.patch(), image = g.c * hp * wp, slack = g.dw * (g.kw - 1) + 2 * kNr;
  const int64_t kc_max = ge::ceil_div(kp, ge::ceil_div(kp, kMaxKcPairs));
  int32_t* toff = reinterpret_cast<int32_t*>(ge::thread_scratch().get(Slot::shared, floats_for_ints(taps)));
  tap_offsets(g.c, g.kh, g.kw, hp * wp, wp, g.dh, g.dw, toff);
  weight_grad_by_groups(g, taps, dw, [&] {
    ge::Scratch& s = ge::thread_scratch();
    // bfloat16 halves in a float slot: image + slack halves.
    uint16_t* img = reinterpret_cast<uint16_t*>(s.get(Slot::image, ge::ceil_div(image + slack, 2) + 16));
    uint32_t* bt = reinterpret_cast<uint32_t*>(s.get(Slot::pack_b, kp * ge::round_up(g.o, kLanes)));
    uint16_t* rows = reinterpret_cast<uint16_t*>(s.get(Slot::pack_a, kp * kNr));
    return [&, img, bt, rows](int64_t n, float* acc, bool accumulate) {  // dWᵀ[taps, O] += A[taps, kp] · dyᵀ
      pad_image(x + n * g.c * g.in_pixels(), g.c, g.h, g.w, g.ph, g.pw, hp, wp, slack, img);
      pack_dy_pairs(g, dy + n * g.o * g.out_pixels(), wp, kp, bt, rows);
      for_each_tile<kMr, panel_width>(taps, g.o, kp, kc_max, [&](const Tile& t) {
        const uint16_t* a_rows[kMr];
        for (int r = 0; r < kMr; ++r) a_rows[r] = img + toff[t.i0 + std::min(r, t.mr - 1)] + 2 * t.k0;
        micro_kernel_direct_a(t.w, t.kc, a_rows, bt + t.j0 * kp + t.k0 * t.w, acc + t.i0 * g.o + t.j0, g.o, t.mr, t.nr,
                              accumulate || t.k0 > 0);
      });
    };
  });
}

// The weights as float32 (exactly), for the float32 kernels that take the products where
// vdpbf16ps and AMX do not pay; they widen the activations themselves.
const float* widened_weights(const uint16_t* w, const ConvGeom& g) {
  return float32_operand(w, DType::bf16, g.o * g.patch(), Slot::widen_b);
}

}  // namespace

void conv2d_forward(const ConvGeom& g, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
                    const Epilogue* epilogue) {
  if (g.n == 0) return;
  if (amx::available() && conv_amx::forward_applies(g)) return conv_amx::forward(g, x, w, bias, y, epilogue);
  if (direct_forward_ok(g) && direct_pays(g)) return forward_direct(g, x, w, bias, y, epilogue);
  conv2d_forward_f32(g, x, widened_weights(w, g), bias, y, epilogue);
}

void conv2d_input_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* w, float* dx, const Epilogue* epilogue) {
  if (g.n == 0) return;
  if (amx::available() && conv_amx::input_grad_applies(g)) return conv_amx::input_grad(g, dy, w, dx, epilogue);
  if (direct_input_grad_ok(g) && direct_pays(g)) return input_grad_direct(g, dy, w, dx, epilogue);
  conv2d_input_grad_f32(g, dy, widened_weights(w, g), dx, epilogue);
}

void conv2d_weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  if (g.n == 0) {
    std::fill(dw, dw + g.o * g.patch(), 0.f);
    return;
  }
  if (amx::available() && conv_amx::weight_grad_applies(g)) return conv_amx::weight_grad(g, dy, x, dw);
  if (direct_weight_grad_ok(g) && direct_pays(g)) return weight_grad_direct(g, dy, x, dw);
  conv2d_weight_grad_f32(g, dy, x, dw);
}

}  // namespace dagrad::gemm_bf16
