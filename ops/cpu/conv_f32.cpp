// float32 convolutions on dagrad's GEMM engine.
//
// Stride 1 (every convolution of the model zoo) runs direct: each image is zero-padded
// into per-thread scratch once and the micro-kernel reads it in place. Flattened with the
// padded row length wp, output pixel (oh, ow) sits at q = oh*wp + ow and its tap (c,i,j)
// reads image[off(c,i,j) + q] with off = c*hp*wp + i*dh*wp + j*dw: every tap is the same
// image shifted, so no patch matrix is ever packed (for a 3x3 kernel it would hold nine
// times the image). Columns q with ow >= OW wrap into the next row: computed, never kept.
//   forward          y_q[O, q]    = W[O, CKK] · image[off(k) + q]            (direct B)
//   input gradient   dx_q[C, q]   = Wflip[C, O*KK] · dy_padded[off'(k) + q]   (direct B: the
//                    full correlation of dy with the flipped kernel)
//   weight gradient  dWᵀ[CKK, O]  = Σ_q image[off(t) + q] · dy_q[O, q]ᵀ       (direct A)
// Other strides pack implicit im2col panels (Patches) and scatter dx with col2im.
//
// 3x3 convolutions with enough channels go to Winograd (ops/cpu/conv_winograd.h), and the
// forward pass of a one-input-channel layer to ops/cpu/conv_one_channel.h, before these.
//
// Work is split over whole images; the weight gradient sums fixed groups of images in
// group order. No result depends on the thread count.
#include "ops/cpu/conv_f32.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include "ops/cpu/conv_direct.h"
#include "ops/cpu/conv_one_channel.h"
#include "ops/cpu/conv_winograd.h"
#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/im2col.h"
#include "ops/cpu/operands.h"
#include "ops/cpu/transpose.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

namespace ge = gemm_engine;
using ge::Slot;

using namespace conv_direct;

// ---- direct (stride 1) ----

// C[m, n] (row stride ldc) = A·B (+ bias[row]) with A in whole-K panels (panel p at
// apk + p*kMr*k) and B(k, q) = b[koff[k] + q].
void gemm_direct_b(int64_t m, int64_t n, int64_t k, const float* apk, const float* b, const int32_t* koff, float* c,
                   int64_t ldc, const float* bias) {
  const int64_t kc_max = ge::ceil_div(k, ge::ceil_div(k, ge::kMaxKc));
  for_each_tile<ge::kMr, ge::panel_width>(m, n, k, kc_max, [&](const Tile& t) {
    ge::micro_kernel_direct_b(t.w, t.kc, apk + t.i0 * k + t.k0 * ge::kMr, b + t.j0, koff + t.k0,
                              c + t.i0 * ldc + t.j0, ldc, t.mr, t.nr, t.k0 > 0,
                              t.k0 == 0 && bias ? bias + t.i0 : nullptr);
  });
}

// Whole-K panels of A[m, k] (row-major): what gemm_direct_b reads.
void pack_panels(const float* a, int64_t m, int64_t k, float* apk) {
  for (int64_t i0 = 0; i0 < m; i0 += ge::kMr)
    ge::pack_a_panel(a + i0 * k, k, 1, static_cast<int>(std::min<int64_t>(ge::kMr, m - i0)), k, apk + i0 * k);
}

bool offsets_fit(int64_t floats) { return floats < INT32_MAX / 2; }

bool direct_forward_ok(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && offsets_fit(g.c * (g.h + 2 * g.ph) * (g.w + 2 * g.pw));
}

bool direct_input_grad_ok(const ConvGeom& g) {
  const int64_t ph = g.dh * (g.kh - 1) - g.ph, pw = g.dw * (g.kw - 1) - g.pw;
  return g.sh == 1 && g.sw == 1 && ph >= 0 && pw >= 0 && offsets_fit(g.o * (g.oh + 2 * ph) * (g.ow + 2 * pw));
}

// Image n of a [N, ...] tensor of `len` values per image, as float32: in place, or its
// bfloat16 bits (T = uint16_t) widened exactly into the calling thread's `slot`.
template <class T>
const float* image_at(const T* t, int64_t n, int64_t len, Slot slot) {
  return widened(t + n * len, len, widen_buffer<T>(slot, len));
}

template <class T>
void forward_direct(const ConvGeom& g, const T* x, const float* w, const float* bias, float* y,
                    const Epilogue* epilogue) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, nq = g.oh * wp, k = g.patch();
  const int64_t image = g.c * hp * wp, slack = g.dw * (g.kw - 1) + ge::kNr;
  const DirectA a = direct_a_scratch<ge::kMr>(g.o, k);
  tap_offsets(g.c, g.kh, g.kw, hp * wp, wp, g.dh, g.dw, a.koff);
  pack_panels(w, g.o, k, a.panels);
  direct_by_image<float>(
      g.n, image + slack, {g.o, g.oh, wp, g.ow, y}, epilogue,
      [&](int64_t n, float* img) {
        pad_image(image_at(x, n, g.c * g.in_pixels(), Slot::widen_a), g.c, g.h, g.w, g.ph, g.pw, hp, wp, slack, img);
      },
      [&](const float* img, float* yq) { gemm_direct_b(g.o, nq, k, a.panels, img, a.koff, yq, nq, bias); });
}

// dx[c,h,w] = Σ_{o,i,j} W[o,c,KH-1-i,KW-1-j] · dy_padded[o, h + i*dh, w + j*dw], dy padded by
// dh*(KH-1) - ph rows and dw*(KW-1) - pw columns on each side.
template <class T>
void input_grad_direct(const ConvGeom& g, const T* dy, const float* w, float* dx, const Epilogue* epilogue) {
  const int64_t top = g.dh * (g.kh - 1) - g.ph, left = g.dw * (g.kw - 1) - g.pw;
  const int64_t hq = g.oh + 2 * top, wq = g.ow + 2 * left, nq = g.h * wq, k = g.o * g.kh * g.kw;
  const int64_t image = g.o * hq * wq, slack = g.dw * (g.kw - 1) + ge::kNr;
  const DirectA a = direct_a_scratch<ge::kMr>(g.c, k);
  tap_offsets(g.o, g.kh, g.kw, hq * wq, wq, g.dh, g.dw, a.koff);
  // Panels of Wflip[c, (o,i,j)] = W[o, c, KH-1-i, KW-1-j].
  for (int64_t c0 = 0; c0 < g.c; c0 += ge::kMr) {
    float* panel = a.panels + c0 * k;
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          float* d = panel + ((o * g.kh + i) * g.kw + j) * ge::kMr;
          for (int r = 0; r < ge::kMr; ++r)
            d[r] = c0 + r < g.c ? w[((o * g.c + c0 + r) * g.kh + g.kh - 1 - i) * g.kw + g.kw - 1 - j] : 0.f;
        }
  }
  direct_by_image<float>(
      g.n, image + slack, {g.c, g.h, wq, g.w, dx}, epilogue,
      [&](int64_t n, float* img) {
        pad_image(image_at(dy, n, g.o * g.out_pixels(), Slot::widen_a), g.o, g.oh, g.ow, top, left, hq, wq, slack, img);
      },
      [&](const float* img, float* dxq) { gemm_direct_b(g.c, nq, k, a.panels, img, a.koff, dxq, nq, nullptr); });
}

// dy_n[O, OH, OW] as B panels of the weight gradient: panel j0 (width w) holds
// dyᵀ[q, j0 .. j0+w) for every flattened q = oh*wp + ow, zero for wrapped columns and
// channels past O. Panels follow each other: panel j0 starts at j0 * nq. Each panel's
// channels are first laid out as flattened rows in `rows` (w x nq floats of scratch),
// then transposed in 16 x 16 blocks.
void pack_dy_transposed(const ConvGeom& g, const float* dy_n, int64_t wp, float* bt, float* rows) {
  const int64_t nq = g.oh * wp;
  for (int64_t j0 = 0; j0 < g.o;) {
    const int w = ge::panel_width(g.o - j0);
    const int nr = static_cast<int>(std::min<int64_t>(w, g.o - j0));
    for (int jj = 0; jj < w; ++jj) {
      float* row = rows + jj * nq;
      if (jj >= nr) {
        std::fill(row, row + nq, 0.f);
        continue;
      }
      const float* src = dy_n + (j0 + jj) * g.out_pixels();
      for (int64_t oh = 0; oh < g.oh; ++oh) {
        std::memcpy(row + oh * wp, src + oh * g.ow, static_cast<size_t>(g.ow) * sizeof(float));
        std::fill(row + oh * wp + g.ow, row + (oh + 1) * wp, 0.f);
      }
    }
    transpose_32bit(reinterpret_cast<const uint32_t*>(rows), nq, w, nq, reinterpret_cast<uint32_t*>(bt + j0 * nq), w);
    j0 += w;
  }
}

template <class T>
void weight_grad_direct(const ConvGeom& g, const T* dy, const T* x, float* dw) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, nq = g.oh * wp, taps = g.patch();
  const int64_t image = g.c * hp * wp, slack = g.dw * (g.kw - 1) + ge::kNr;
  const int64_t kc_max = ge::ceil_div(nq, ge::ceil_div(nq, ge::kMaxKc));
  int32_t* toff = reinterpret_cast<int32_t*>(ge::thread_scratch().get(Slot::shared, floats_for_ints(taps)));
  tap_offsets(g.c, g.kh, g.kw, hp * wp, wp, g.dh, g.dw, toff);
  weight_grad_by_groups(g, taps, dw, [&] {
    ge::Scratch& s = ge::thread_scratch();
    float* img = s.get(Slot::image, image + slack);
    float* bt = s.get(Slot::pack_b, nq * ge::round_up(g.o, ge::kLanes));
    float* rows = s.get(Slot::pack_a, nq * ge::kNr);
    return [&, img, bt, rows](int64_t n, float* acc, bool accumulate) {  // dWᵀ[taps, O] += A[taps, nq] · dyᵀ
      pad_image(image_at(x, n, g.c * g.in_pixels(), Slot::widen_a), g.c, g.h, g.w, g.ph, g.pw, hp, wp, slack, img);
      pack_dy_transposed(g, image_at(dy, n, g.o * g.out_pixels(), Slot::widen_b), wp, bt, rows);
      for_each_tile<ge::kMr, ge::panel_width>(taps, g.o, nq, kc_max, [&](const Tile& t) {
        const float* a_rows[ge::kMr];
        for (int r = 0; r < ge::kMr; ++r) a_rows[r] = img + toff[t.i0 + std::min(r, t.mr - 1)] + t.k0;
        ge::micro_kernel_direct_a(t.w, t.kc, a_rows, bt + t.j0 * nq + t.k0 * t.w, acc + t.i0 * g.o + t.j0, g.o, t.mr,
                                  t.nr, accumulate || t.k0 > 0);
      });
    };
  });
}

// ---- packed implicit im2col (any stride) ----

// One image's patches: P(k, p) = x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] for the patch
// index k = (c,i,j) and the output pixel p = (oh,ow); zero where the tap falls in padding.
class Patches {
 public:
  Patches(const ConvGeom& g, const float* x) : g_(g), x_(x) {
    for (int64_t j = 0; j < std::min<int64_t>(g.kw, kTaps); ++j)
      taps_[j] = valid_outputs(j * g.dw - g.pw, g.sw, g.w, g.ow);
  }

  // Forward B panel: rows k in [k0, k0+kc), columns p in [p0, p0+nr), width w.
  void pack_rows(int64_t k0, int64_t kc, int64_t p0, int nr, int w, float* dst) const {
    int64_t c = k0 / (g_.kh * g_.kw), i = k0 / g_.kw % g_.kh, j = k0 % g_.kw;
    for (int64_t kk = 0; kk < kc; ++kk) {
      float* d = dst + kk * w;
      int64_t oh = p0 / g_.ow, ow = p0 % g_.ow;
      for (int pos = 0; pos < nr;) {
        const int len = static_cast<int>(std::min<int64_t>(nr - pos, g_.ow - ow));
        copy_row(c, i, j, oh, ow, len, d + pos);
        pos += len;
        ++oh;
        ow = 0;
      }
      std::fill(d + nr, d + w, 0.f);
      if (++j == g_.kw) {
        j = 0;
        if (++i == g_.kh) i = 0, ++c;
      }
    }
  }

  // Weight-gradient B panel, the transpose: rows p in [p0, p0+kc), columns k in [k0, k0+nr).
  void pack_cols(int64_t p0, int64_t kc, int64_t k0, int nr, int w, float* dst) const {
    float run[512];
    for (int jj = 0; jj < w; ++jj) {
      if (jj >= nr) {
        for (int64_t kk = 0; kk < kc; ++kk) dst[kk * w + jj] = 0.f;
        continue;
      }
      const int64_t k = k0 + jj;
      const int64_t c = k / (g_.kh * g_.kw), i = k / g_.kw % g_.kh, j = k % g_.kw;
      int64_t oh = p0 / g_.ow, ow = p0 % g_.ow;
      for (int64_t pos = 0; pos < kc;) {
        const int len = static_cast<int>(std::min<int64_t>({kc - pos, g_.ow - ow, 512}));
        copy_row(c, i, j, oh, ow, len, run);
        for (int t = 0; t < len; ++t) dst[(pos + t) * w + jj] = run[t];
        pos += len;
        ow += len;
        if (ow == g_.ow) ow = 0, ++oh;
      }
    }
  }

 private:
  static constexpr int64_t kTaps = 16;

  ValidRange tap_range(int64_t j) const {
    return j < kTaps ? taps_[j] : valid_outputs(j * g_.dw - g_.pw, g_.sw, g_.w, g_.ow);
  }

  // d[0, len) = patch values of tap (c,i,j) for output pixels (oh, ow .. ow+len).
  void copy_row(int64_t c, int64_t i, int64_t j, int64_t oh, int64_t ow, int len, float* d) const {
    const int64_t ih = oh * g_.sh - g_.ph + i * g_.dh;
    if (ih < 0 || ih >= g_.h) {
      std::fill(d, d + len, 0.f);
      return;
    }
    const ValidRange r = tap_range(j);
    const int64_t lo = std::clamp(r.lo, ow, ow + len), hi = std::clamp(r.hi, lo, ow + len);
    const float* src = x_ + (c * g_.h + ih) * g_.w + j * g_.dw - g_.pw;
    std::fill(d, d + (lo - ow), 0.f);
    for (int64_t o = lo; o < hi; ++o) d[o - ow] = src[o * g_.sw];
    std::fill(d + (hi - ow), d + len, 0.f);
  }

  const ConvGeom& g_;
  const float* x_;
  std::array<ValidRange, kTaps> taps_{};
};

void forward_packed(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                    const Epilogue* epilogue) {
  const int64_t patch = g.patch(), pixels = g.out_pixels();
  if (epilogue) epilogue->applied = true;  // image by image, below
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) {
      Patches patches(g, x + n * g.c * g.in_pixels());
      ge::run(
          ge::Problem{g.o, pixels, patch},
          [&](int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) {
            ge::pack_a_panel(w + i0 * patch + k0, patch, 1, mr, kc, dst);
          },
          [&](int64_t k0, int64_t kc, int64_t p0, int nr, int wd, float* dst) {
            patches.pack_rows(k0, kc, p0, nr, wd, dst);
          },
          image_destination(epilogue, y, n, g.o * pixels), pixels, false, bias);
      if (epilogue) epilogue->run(n * g.o * pixels, (n + 1) * g.o * pixels);
    }
  });
}

// cols_n[CKK, P] = Wᵀ[CKK, O] · dy_n[O, P], then col2im into dx_n.
void input_grad_packed(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const int64_t patch = g.patch(), pixels = g.out_pixels();
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    float* cols = ge::thread_scratch().get(Slot::output, static_cast<size_t>(patch * pixels));
    for (int64_t n = lo; n < hi; ++n) {
      float* dx_n = dx + n * g.c * g.in_pixels();
      ge::sgemm(true, false, patch, pixels, g.o, w, patch, dy + n * g.o * pixels, pixels, cols, pixels, false);
      std::fill(dx_n, dx_n + g.c * g.in_pixels(), 0.f);
      col2im(g, cols, dx_n);
    }
  });
}

// dW[O, CKK] = Σ_n dy_n[O, P] · patches_nᵀ[P, CKK]: one GEMM per group of images whose K
// runs over the group's pixels (image by image), each group into its own partial sum.
void weight_grad_packed(const ConvGeom& g, const float* dy, const float* x, float* dw) {
  const int64_t patch = g.patch(), pixels = g.out_pixels(), wsize = g.o * patch;
  const int64_t groups = ge::ceil_div(g.n, kWeightGradGroup);
  float* partials = groups > 1 ? ge::thread_scratch().get(Slot::partials, static_cast<size_t>(groups * wsize)) : dw;
  parallel_for(0, groups, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t grp = lo; grp < hi; ++grp) {
      const int64_t first = grp * kWeightGradGroup, count = std::min(g.n - first, kWeightGradGroup);
      ge::run(
          ge::Problem{g.o, patch, count * pixels, pixels},
          [&](int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) {
            const int64_t n = first + k0 / pixels, p0 = k0 % pixels;
            ge::pack_a_panel(dy + (n * g.o + i0) * pixels + p0, pixels, 1, mr, kc, dst);
          },
          [&](int64_t k0, int64_t kc, int64_t j0, int nr, int wd, float* dst) {
            const int64_t n = first + k0 / pixels;
            Patches(g, x + n * g.c * g.in_pixels()).pack_cols(k0 % pixels, kc, j0, nr, wd, dst);
          },
          partials + grp * wsize, patch, false);
    }
  });
  if (groups == 1) return;
  parallel_for(0, wsize, 4096, [&](int64_t lo, int64_t hi) {
    std::copy(partials + lo, partials + hi, dw + lo);
    for (int64_t grp = 1; grp < groups; ++grp) {
      const float* p = partials + grp * wsize;
      for (int64_t i = lo; i < hi; ++i) dw[i] += p[i];
    }
  });
}

// The operands that may be bfloat16 (T = uint16_t bits) are widened exactly: image by image
// by the kernels that take whole images (Winograd, one channel, direct), whole otherwise.
template <class T>
const float* widened_whole(const T* t, int64_t numel, Slot slot) {
  if constexpr (std::is_same_v<T, float>) return t;
  return float32_operand(t, DType::bf16, numel, slot);
}

template <class T>
void forward_any(const ConvGeom& g, const T* x, const float* w, const float* bias, float* y, const Epilogue* epilogue) {
  if (g.n == 0) return;
  if (winograd::applies(g)) return winograd::forward_f4(g, x, w, bias, y, epilogue);
  if (conv_one_channel::applies(g)) return conv_one_channel::forward(g, x, w, bias, y, epilogue);
  if (direct_forward_ok(g)) return forward_direct(g, x, w, bias, y, epilogue);
  forward_packed(g, widened_whole(x, g.n * g.c * g.in_pixels(), Slot::widen_a), w, bias, y, epilogue);
}

template <class T>
void input_grad_any(const ConvGeom& g, const T* dy, const float* w, float* dx, const Epilogue* epilogue) {
  if (g.n == 0) return;
  if (winograd::applies(g)) return winograd::conv2d_input_grad(g, dy, w, dx, epilogue);
  if (direct_input_grad_ok(g)) return input_grad_direct(g, dy, w, dx, epilogue);
  input_grad_packed(g, widened_whole(dy, g.n * g.o * g.out_pixels(), Slot::widen_a), w, dx);
}

template <class T>
void weight_grad_any(const ConvGeom& g, const T* dy, const T* x, float* dw) {
  if (g.n == 0) {
    std::fill(dw, dw + g.o * g.patch(), 0.f);
    return;
  }
  if (winograd::applies(g)) return winograd::conv2d_weight_grad(g, dy, x, dw);
  if (conv_one_channel::applies(g)) return conv_one_channel::weight_grad(g, dy, x, dw);
  if (direct_forward_ok(g)) return weight_grad_direct(g, dy, x, dw);
  weight_grad_packed(g, widened_whole(dy, g.n * g.o * g.out_pixels(), Slot::widen_a),
                     widened_whole(x, g.n * g.c * g.in_pixels(), Slot::widen_b), dw);
}

}  // namespace

void conv2d_forward_f32(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                        const Epilogue* epilogue) {
  forward_any(g, x, w, bias, y, epilogue);
}
void conv2d_forward_f32(const ConvGeom& g, const uint16_t* x, const float* w, const float* bias, float* y,
                        const Epilogue* epilogue) {
  forward_any(g, x, w, bias, y, epilogue);
}

void conv2d_input_grad_f32(const ConvGeom& g, const float* dy, const float* w, float* dx, const Epilogue* epilogue) {
  input_grad_any(g, dy, w, dx, epilogue);
}
void conv2d_input_grad_f32(const ConvGeom& g, const uint16_t* dy, const float* w, float* dx, const Epilogue* epilogue) {
  input_grad_any(g, dy, w, dx, epilogue);
}

void conv2d_weight_grad_f32(const ConvGeom& g, const float* dy, const float* x, float* dw) {
  weight_grad_any(g, dy, x, dw);
}
void conv2d_weight_grad_f32(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  weight_grad_any(g, dy, x, dw);
}

}  // namespace dagrad
