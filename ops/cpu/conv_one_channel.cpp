// See ops/cpu/conv_one_channel.h. Per image: zero-pad into scratch, then for each output row
// and block of 16 columns load the KH*KW tap vectors once and produce every output channel
// from them, four channels at a time (four independent FMA chains). Each output is one sum
// in tap order, then the bias: the direct GEMM kernel's order, so results are unchanged.
// The weight gradient sums dy·x per tap in lanes of 16 columns over the image, then across
// lanes; images in the direct kernels' fixed groups (no result depends on the thread count).
#include "ops/cpu/conv_one_channel.h"

#include <algorithm>
#include <cstdint>

#include "ops/cpu/conv_direct.h"
#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/operands.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// GCC 12's _mm512_reduce_add_ps passes an undefined vector and then warns about it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dagrad::conv_one_channel {

bool applies(const ConvGeom& g) {
#if defined(__AVX512F__)
  return g.c == 1 && g.sh == 1 && g.sw == 1 && g.kh == g.kw && (g.kh == 3 || g.kh == 5) && g.oh > 0 && g.ow > 0;
#else
  (void)g;
  return false;
#endif
}

#if defined(__AVX512F__)

namespace {

namespace ge = gemm_engine;

constexpr int64_t kSlack = 32;  // floats after the padded image: a row's last block reads up to 15 past it

// One image: img is padded (hp x wp, then kSlack), y_n is [O, OH, OW].
template <int K>
void image_forward(const ConvGeom& g, const float* img, int64_t wp, const float* w, const float* bias, float* y_n) {
  constexpr int kTaps = K * K;
  int64_t off[kTaps];
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) off[i * K + j] = i * g.dh * wp + j * g.dw;
  const int64_t plane = g.oh * g.ow;
  for (int64_t r = 0; r < g.oh; ++r)
    for (int64_t c0 = 0; c0 < g.ow; c0 += 16) {
      const int64_t cols = std::min<int64_t>(16, g.ow - c0);
      const __mmask16 mask = static_cast<__mmask16>(cols == 16 ? 0xffffu : (1u << cols) - 1u);
      const float* at = img + r * wp + c0;
      __m512 in[kTaps];
      for (int t = 0; t < kTaps; ++t) in[t] = _mm512_loadu_ps(at + off[t]);
      float* out = y_n + r * g.ow + c0;
      auto store = [&](int64_t o, __m512 v) {
        if (cols == 16)
          _mm512_storeu_ps(out + o * plane, v);
        else
          _mm512_mask_storeu_ps(out + o * plane, mask, v);
      };
      // The bias goes on last, as the GEMM engine's store does: the same bits as the
      // direct kernel this replaces.
      auto with_bias = [&](int64_t o, __m512 v) { return bias ? _mm512_add_ps(v, _mm512_set1_ps(bias[o])) : v; };
      int64_t o = 0;
      for (; o + 4 <= g.o; o += 4) {
        __m512 acc[4];
        for (int q = 0; q < 4; ++q) acc[q] = _mm512_setzero_ps();
        const float* wo = w + o * kTaps;
        for (int t = 0; t < kTaps; ++t)
          for (int q = 0; q < 4; ++q) acc[q] = _mm512_fmadd_ps(in[t], _mm512_set1_ps(wo[q * kTaps + t]), acc[q]);
        for (int q = 0; q < 4; ++q) store(o + q, with_bias(o + q, acc[q]));
      }
      for (; o < g.o; ++o) {
        __m512 acc = _mm512_setzero_ps();
        for (int t = 0; t < kTaps; ++t) acc = _mm512_fmadd_ps(in[t], _mm512_set1_ps(w[o * kTaps + t]), acc);
        store(o, with_bias(o, acc));
      }
    }
}

// x float32, or bfloat16 (bits) widened exactly image by image.
template <int K, class T>
void forward_k(const ConvGeom& g, const T* x, const float* w, const float* bias, float* y, const Epilogue* epilogue) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, per_image = g.o * g.out_pixels();
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    float* img = ge::thread_scratch().get(ge::Slot::image, hp * wp + kSlack);
    float* wide_x = widen_buffer<T>(ge::Slot::widen_a, g.in_pixels());
    for (int64_t n = lo; n < hi; ++n) {
      const float* x_n = widened(x + n * g.in_pixels(), g.in_pixels(), wide_x);
      conv_direct::pad_image(x_n, 1, g.h, g.w, g.ph, g.pw, hp, wp, kSlack, img);
      image_forward<K>(g, img, wp, w, bias, image_destination(epilogue, y, n, per_image));
      if (epilogue) epilogue->run(n * per_image, (n + 1) * per_image);
    }
  });
}

// One image's dW[o, t] sums, added (or, without accumulate, written) into acc[t * O + o]:
// two output channels at a time, their 2·K·K lane sums in registers over every row block,
// the K·K shifted input vectors loaded once per block, then each sum reduced across lanes.
template <int K>
void image_weight_grad(const ConvGeom& g, const float* img, int64_t wp, const float* dy_n, float* acc, bool accumulate) {
  constexpr int kTaps = K * K;
  int64_t off[kTaps];
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) off[i * K + j] = i * g.dh * wp + j * g.dw;
  const int64_t plane = g.oh * g.ow;
  // Takes sums by value (an array passed by address would keep them in memory).
  auto finish = [&](int64_t o, int t, __m512 sum) {
    const float v = _mm512_reduce_add_ps(sum);
    acc[t * g.o + o] = accumulate ? acc[t * g.o + o] + v : v;
  };
  int64_t o = 0;
  for (; o + 2 <= g.o; o += 2) {
    __m512 s0[kTaps], s1[kTaps];
    for (int t = 0; t < kTaps; ++t) s0[t] = s1[t] = _mm512_setzero_ps();
    for (int64_t r = 0; r < g.oh; ++r)
      for (int64_t c0 = 0; c0 < g.ow; c0 += 16) {
        // Lanes past the row read zeros from both operands: no 0 * inf from the next row.
        const __mmask16 m = static_cast<__mmask16>(g.ow - c0 >= 16 ? 0xffffu : (1u << (g.ow - c0)) - 1u);
        const float* at = img + r * wp + c0;
        const __m512 d0 = _mm512_maskz_loadu_ps(m, dy_n + o * plane + r * g.ow + c0);
        const __m512 d1 = _mm512_maskz_loadu_ps(m, dy_n + (o + 1) * plane + r * g.ow + c0);
#pragma GCC unroll 25  // every tap: the sums stay in registers
        for (int t = 0; t < kTaps; ++t) {
          const __m512 in = _mm512_maskz_loadu_ps(m, at + off[t]);
          s0[t] = _mm512_fmadd_ps(d0, in, s0[t]);
          s1[t] = _mm512_fmadd_ps(d1, in, s1[t]);
        }
      }
#pragma GCC unroll 25
    for (int t = 0; t < kTaps; ++t) finish(o, t, s0[t]), finish(o + 1, t, s1[t]);
  }
  for (; o < g.o; ++o) {
    __m512 s0[kTaps];
    for (int t = 0; t < kTaps; ++t) s0[t] = _mm512_setzero_ps();
    for (int64_t r = 0; r < g.oh; ++r)
      for (int64_t c0 = 0; c0 < g.ow; c0 += 16) {
        const __mmask16 m = static_cast<__mmask16>(g.ow - c0 >= 16 ? 0xffffu : (1u << (g.ow - c0)) - 1u);
        const __m512 d0 = _mm512_maskz_loadu_ps(m, dy_n + o * plane + r * g.ow + c0);
#pragma GCC unroll 25
        for (int t = 0; t < kTaps; ++t)
          s0[t] = _mm512_fmadd_ps(d0, _mm512_maskz_loadu_ps(m, img + r * wp + c0 + off[t]), s0[t]);
      }
#pragma GCC unroll 25
    for (int t = 0; t < kTaps; ++t) finish(o, t, s0[t]);
  }
}

// dy and x float32, or bfloat16 (bits) widened exactly image by image.
template <int K, class T>
void weight_grad_k(const ConvGeom& g, const T* dy, const T* x, float* dw) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, dy_image = g.o * g.out_pixels();
  conv_direct::weight_grad_by_groups(g, K * K, dw, [&] {
    float* img = ge::thread_scratch().get(ge::Slot::image, hp * wp + kSlack);
    float* wide_x = widen_buffer<T>(ge::Slot::widen_a, g.in_pixels());
    float* wide_dy = widen_buffer<T>(ge::Slot::widen_b, dy_image);
    return [&, img, wide_x, wide_dy](int64_t n, float* acc, bool accumulate) {
      const float* x_n = widened(x + n * g.in_pixels(), g.in_pixels(), wide_x);
      conv_direct::pad_image(x_n, 1, g.h, g.w, g.ph, g.pw, hp, wp, kSlack, img);
      image_weight_grad<K>(g, img, wp, widened(dy + n * dy_image, dy_image, wide_dy), acc, accumulate);
    };
  });
}

template <class T>
void weight_grad_any(const ConvGeom& g, const T* dy, const T* x, float* dw) {
  if (g.kh == 3)
    weight_grad_k<3>(g, dy, x, dw);
  else
    weight_grad_k<5>(g, dy, x, dw);
}

template <class T>
void forward_any(const ConvGeom& g, const T* x, const float* w, const float* bias, float* y, const Epilogue* epilogue) {
  if (epilogue) epilogue->applied = true;  // image by image
  if (g.kh == 3)
    forward_k<3>(g, x, w, bias, y, epilogue);
  else
    forward_k<5>(g, x, w, bias, y, epilogue);
}

}  // namespace

void forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, const Epilogue* epilogue) {
  forward_any(g, x, w, bias, y, epilogue);
}

void forward(const ConvGeom& g, const uint16_t* x, const float* w, const float* bias, float* y,
             const Epilogue* epilogue) {
  forward_any(g, x, w, bias, y, epilogue);
}

void weight_grad(const ConvGeom& g, const float* dy, const float* x, float* dw) { weight_grad_any(g, dy, x, dw); }

void weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw) {
  weight_grad_any(g, dy, x, dw);
}

#else

void forward(const ConvGeom&, const float*, const float*, const float*, float*, const Epilogue*) {
  throw InternalError("[conv_one_channel] forward needs AVX-512; applies() said no");
}
void forward(const ConvGeom&, const uint16_t*, const float*, const float*, float*, const Epilogue*) {
  throw InternalError("[conv_one_channel] forward needs AVX-512; applies() said no");
}
void weight_grad(const ConvGeom&, const float*, const float*, float*) {
  throw InternalError("[conv_one_channel] weight_grad needs AVX-512; applies() said no");
}
void weight_grad(const ConvGeom&, const uint16_t*, const uint16_t*, float*) {
  throw InternalError("[conv_one_channel] weight_grad needs AVX-512; applies() said no");
}

#endif

}  // namespace dagrad::conv_one_channel
