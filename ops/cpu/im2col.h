// The patch matrix of a convolution on the CPU: im2col lowers one image to
// cols[(c,i,j), (oh,ow)], col2im adds a patch matrix back onto the image (its adjoint).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ops/params/conv.h"

namespace dagrad {

// cols[(c,i,j), (oh,ow)] = x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw], zero outside the image.
template <class T>
void im2col(const ConvGeom& g, const T* x, T* cols) {
  const int64_t pixels = g.out_pixels();
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = cols + ((c * g.kh + i) * g.kw + j) * pixels;
        const int64_t off_w = j * g.dw - g.pw;
        const ValidRange r = valid_outputs(off_w, g.sw, g.w, g.ow);
        for (int64_t oh = 0; oh < g.oh; ++oh) {
          T* dst = row + oh * g.ow;
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.h) {
            std::fill(dst, dst + g.ow, T(0));
            continue;
          }
          const T* src = x + (c * g.h + ih) * g.w;
          std::fill(dst, dst + r.lo, T(0));
          if (g.sw == 1)
            std::memcpy(dst + r.lo, src + r.lo + off_w, (r.hi - r.lo) * sizeof(T));
          else
            for (int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow] = src[ow * g.sw + off_w];
          std::fill(dst + r.hi, dst + g.ow, T(0));
        }
      }
}

// The adjoint of im2col: adds every column entry back onto the pixel it was read from.
// dx must be zeroed first; the accumulation order is fixed.
template <class T>
void col2im(const ConvGeom& g, const T* cols, T* dx) {
  const int64_t pixels = g.out_pixels();
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((c * g.kh + i) * g.kw + j) * pixels;
        const int64_t off_w = j * g.dw - g.pw;
        const ValidRange r = valid_outputs(off_w, g.sw, g.w, g.ow);
        for (int64_t oh = 0; oh < g.oh; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.h) continue;
          const T* src = row + oh * g.ow;
          T* dst = dx + (c * g.h + ih) * g.w;
          for (int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow * g.sw + off_w] += src[ow];
        }
      }
}

}  // namespace dagrad
