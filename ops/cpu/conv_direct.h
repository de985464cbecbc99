// What the float32 and bfloat16 direct convolutions (ops/cpu/conv_f32.cpp,
// ops/cpu/conv_bf16.cpp) share apart from their element types and micro-kernels: padding
// an image into scratch, tap offsets, the register-tile loops around a micro-kernel, and
// the weight gradient's fixed-order grouping of images.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/op_def.h"
#include "ops/params/conv.h"
#include "runtime/thread_pool.h"

namespace dagrad::conv_direct {

// Images per weight-gradient partial sum: fixed, so the summation order is too.
inline constexpr int64_t kWeightGradGroup = 8;

// Floats that hold n int32s with what follows kept 64-byte aligned.
inline int64_t floats_for_ints(int64_t n) { return gemm_engine::round_up(n, 16); }

// dst[c, hp, wp] = src[c, h, w] placed at (top, left), zeros around, then `slack` zeros.
// float rows go sixteen lanes at a time, each padded row written whole: a store past a
// row's end is overwritten by the next row, or by the slack's zeros (so slack >= 15).
template <class T>
void pad_image(const T* src, int64_t ch, int64_t h, int64_t w, int64_t top, int64_t left, int64_t hp, int64_t wp,
               int64_t slack, T* dst) {
  if (top == 0 && left == 0 && hp == h && wp == w) {
    std::memcpy(dst, src, static_cast<size_t>(ch * h * w) * sizeof(T));
  } else {
    for (int64_t c = 0; c < ch; ++c)
      for (int64_t r = 0; r < hp; ++r) {
        T* d = dst + (c * hp + r) * wp;
        const int64_t sr = r - top;
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {
          if (slack >= 15) {
            const bool inside = sr >= 0 && sr < h;
            const float* row = inside ? src + (c * h + sr) * w - left : src;  // row[j]: padded column j
            auto below = [](int64_t n) {  // the mask of lanes [0, n), n clamped to [0, 16]
              return static_cast<__mmask16>(n <= 0 ? 0u : n >= 16 ? 0xffffu : (1u << n) - 1u);
            };
            for (int64_t j = 0; j < wp; j += 16) {
              const __mmask16 in = inside ? static_cast<__mmask16>(below(left + w - j) & ~below(left - j)) : 0;
              _mm512_storeu_ps(d + j, _mm512_maskz_loadu_ps(in, row + j));
            }
            continue;
          }
        }
#endif
        if (sr < 0 || sr >= h) {
          std::fill(d, d + wp, T{0});
          continue;
        }
        std::fill(d, d + left, T{0});
        std::memcpy(d + left, src + (c * h + sr) * w, static_cast<size_t>(w) * sizeof(T));
        std::fill(d + left + w, d + wp, T{0});
      }
  }
  std::fill(dst + ch * hp * wp, dst + ch * hp * wp + slack, T{0});
}

// bfloat16 operands (vdpbf16ps, AMX) in channel pairs:
// dst[cp, hp, wp] = words of channels (2cp, 2cp+1) of src[ch, h, w] placed at (top, left),
// zeros around (and for a missing odd channel), then `slack` zero words.
inline void pad_image_pairs(const uint16_t* src, int64_t ch, int64_t h, int64_t w, int64_t top, int64_t left,
                            int64_t hp, int64_t wp, int64_t slack, uint32_t* dst) {
  const int64_t pairs = gemm_engine::ceil_div(ch, 2);
  for (int64_t cp = 0; cp < pairs; ++cp) {
    const uint16_t* lo = src + 2 * cp * h * w;
    const uint16_t* hi = 2 * cp + 1 < ch ? lo + h * w : nullptr;
    for (int64_t r = 0; r < hp; ++r) {
      uint32_t* d = dst + (cp * hp + r) * wp;
      const int64_t sr = r - top;
      if (sr < 0 || sr >= h) {
        std::fill(d, d + wp, 0u);
        continue;
      }
      std::fill(d, d + left, 0u);
      const uint16_t* l = lo + sr * w;
      if (hi) {
        const uint16_t* u = hi + sr * w;
        for (int64_t x = 0; x < w; ++x) d[left + x] = static_cast<uint32_t>(l[x]) | static_cast<uint32_t>(u[x]) << 16;
      } else {
        for (int64_t x = 0; x < w; ++x) d[left + x] = l[x];
      }
      std::fill(d + left + w, d + wp, 0u);
    }
  }
  std::fill(dst + pairs * hp * wp, dst + pairs * hp * wp + slack, 0u);
}

// dst[r, 0..cols) = src[r, 0..cols) for rows of length `stride` in src: drops the wrapped
// columns of a flattened result. Rows are short (tens of floats): sixteen lanes at a time,
// not a memcpy call per row.
inline void compact_rows(const float* src, int64_t rows, int64_t stride, int64_t cols, float* dst) {
#if defined(__AVX512F__)
  const int64_t tail = cols % 16;
  const __mmask16 last = static_cast<__mmask16>((1u << tail) - 1u);
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * stride;
    float* d = dst + r * cols;
    int64_t j = 0;
    for (; j + 16 <= cols; j += 16) _mm512_storeu_ps(d + j, _mm512_loadu_ps(s + j));
    if (tail) _mm512_mask_storeu_ps(d + j, last, _mm512_maskz_loadu_ps(last, s + j));
  }
#else
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * cols, src + r * stride, static_cast<size_t>(cols) * sizeof(float));
#endif
}

// off[(c,i,j)] = c*plane + i*dh*row + j*dw for c < planes, i < kh, j < kw.
inline void tap_offsets(int64_t planes, int64_t kh, int64_t kw, int64_t plane, int64_t row, int64_t dh, int64_t dw,
                        int32_t* off) {
  for (int64_t c = 0; c < planes; ++c)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) *off++ = static_cast<int32_t>(c * plane + i * dh * row + j * dw);
}

// The caller's shared scratch of a direct GEMM (A packed, B read in place): k tap offsets,
// then the A panels of m rows (in panels of kMr) by k, as floats.
struct DirectA {
  int32_t* koff;
  float* panels;
};
template <int kMr>
DirectA direct_a_scratch(int64_t m, int64_t k) {
  float* shared = gemm_engine::thread_scratch().get(gemm_engine::Slot::shared,
                                                    floats_for_ints(k) + gemm_engine::round_up(m, kMr) * k);
  return {reinterpret_cast<int32_t*>(shared), shared + floats_for_ints(k)};
}

// Where a direct convolution's images go: dst holds n images of m planes of rows x cols;
// the GEMM writes each image flattened with rows of `stride` (the padded width).
struct DirectOut {
  int64_t m, rows, stride, cols;
  float* dst;
};

// The per-image loop of a stride-1 direct convolution, the images in parallel:
// pad(n, img) lays image n out in the image slot (img_floats floats of scratch, as Img),
// mul(img, flat) multiplies it into flat[m, rows * stride], whose rows are compacted into
// dst's image n; the epilogue (if any) then runs on that image (and is marked applied).
template <class Img, class Pad, class Mul>
void direct_by_image(int64_t n, int64_t img_floats, const DirectOut& out, const Epilogue* epilogue, Pad&& pad,
                     Mul&& mul) {
  const int64_t plane = out.rows * out.cols, per_image = out.m * plane;
  if (epilogue) epilogue->applied = true;
  parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) {
    gemm_engine::Scratch& s = gemm_engine::thread_scratch();
    Img* img = reinterpret_cast<Img*>(s.get(gemm_engine::Slot::image, img_floats));
    float* flat = s.get(gemm_engine::Slot::output, out.m * out.rows * out.stride);
    for (int64_t i = lo; i < hi; ++i) {
      pad(i, img);
      mul(img, flat);
      if (epilogue && epilogue->consumes_pieces && epilogue->takes_padded_rows) {
        hand_piece({flat, out.stride, out.rows * out.stride});  // read in place, rows padded
      } else {
        float* dst = image_destination(epilogue, out.dst, i, per_image);
        for (int64_t p = 0; p < out.m; ++p)
          compact_rows(flat + p * out.rows * out.stride, out.rows, out.stride, out.cols, dst + p * plane);
      }
      if (epilogue) epilogue->run(i * per_image, (i + 1) * per_image);
    }
  });
}

// One register tile of C[m, n]: rows [i0, i0 + mr), columns [j0, j0 + nr) of a B panel of
// width w, K steps [k0, k0 + kc).
struct Tile {
  int64_t i0, j0, k0, kc;
  int mr, w, nr;
};

// The loops around a micro-kernel over C[m, n] with K = k: B panels of width
// kPanelWidth(columns left), K in blocks of kc_max, rows in tiles of kMr; run(tile) each.
template <int kMr, int (*kPanelWidth)(int64_t), class Run>
void for_each_tile(int64_t m, int64_t n, int64_t k, int64_t kc_max, Run&& run) {
  for (int64_t j0 = 0; j0 < n;) {
    const int w = kPanelWidth(n - j0);
    const int nr = static_cast<int>(std::min<int64_t>(w, n - j0));
    for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
      const int64_t kc = std::min(kc_max, k - k0);
      for (int64_t i0 = 0; i0 < m; i0 += kMr)
        run(Tile{i0, j0, k0, kc, static_cast<int>(std::min<int64_t>(kMr, m - i0)), w, nr});
    }
    j0 += w;
  }
}

// dw[O, taps] = Σ_n (image n's dWᵀ[taps, O])ᵀ in a fixed order: images in groups of
// kWeightGradGroup, each group summed into its own partial (the groups in parallel),
// then the partials in group order. per_thread() sets up a thread's scratch and returns
// add_image(n, acc, accumulate), which adds (or, without accumulate, writes) image n's
// dWᵀ into acc.
template <class PerThread>
void weight_grad_by_groups(const ConvGeom& g, int64_t taps, float* dw, PerThread&& per_thread) {
  const int64_t wsize = taps * g.o, groups = gemm_engine::ceil_div(g.n, kWeightGradGroup);
  float* partials = gemm_engine::thread_scratch().get(gemm_engine::Slot::partials, groups * wsize);
  parallel_for(0, groups, 1, [&](int64_t lo, int64_t hi) {
    auto add_image = per_thread();
    for (int64_t grp = lo; grp < hi; ++grp) {
      float* acc = partials + grp * wsize;
      const int64_t first = grp * kWeightGradGroup, last = std::min(g.n, first + kWeightGradGroup);
      for (int64_t n = first; n < last; ++n) add_image(n, acc, n > first);
    }
  });
  parallel_for(0, g.o, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o)
      for (int64_t t = 0; t < taps; ++t) {
        float v = partials[t * g.o + o];
        for (int64_t grp = 1; grp < groups; ++grp) v += partials[grp * wsize + t * g.o + o];
        dw[o * taps + t] = v;
      }
  });
}

}  // namespace dagrad::conv_direct
