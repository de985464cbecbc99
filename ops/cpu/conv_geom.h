// Geometry of 2-D convolution and pooling windows (NCHW), read from a node's shapes and
// attributes. Shape inference validates the attributes first; kernels and cost models
// then use these helpers on known-good values.
#pragma once
#include <array>
#include <cstdint>

#include "ops/attrs.h"
#include "runtime/shape.h"

namespace dagrad {

// A (height, width) attribute such as stride; {dflt, dflt} when absent.
inline std::array<int64_t, 2> hw_attr(const Attrs& attrs, const std::string& name, int64_t dflt) {
  if (!attrs.has(name)) return {dflt, dflt};
  const std::vector<int64_t>& v = attrs.get_ints(name);
  return {v.at(0), v.at(1)};
}

// Output length of a sliding window along one axis (floor mode); <= 0 means empty.
inline int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// The outputs [lo, hi) of a sliding window whose input index out*stride + offset lies
// in [0, in): the part of an output row that reads inside the image for one kernel tap.
struct ValidRange {
  int64_t lo, hi;
};
inline ValidRange valid_outputs(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - offset <= 0 ? 0 : (in - offset + stride - 1) / stride;
  lo = lo < out ? lo : out;
  hi = hi < lo ? lo : (hi > out ? out : hi);
  return {lo, hi};
}

struct Conv2dGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t o = 0, kh = 0, kw = 0;       // weight [O,C,KH,KW]
  int64_t oh = 0, ow = 0;              // output
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;

  int64_t patch() const { return c * kh * kw; }  // rows of the im2col matrix
  int64_t out_pixels() const { return oh * ow; }
  int64_t in_pixels() const { return h * w; }
  // A 1x1, stride-1, unpadded convolution reads the image itself as its im2col matrix.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// The adjoint of im2col: adds every column entry back onto the pixel it was read from.
// dx must be zeroed first; the accumulation order is fixed.
template <class T>
void col2im(const Conv2dGeom& g, const T* cols, T* dx) {
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

// x [N,C,H,W], weight [O,C,KH,KW]; attrs stride, padding, dilation.
inline Conv2dGeom conv2d_geom(const Shape& x, const Shape& weight, const Attrs& attrs) {
  Conv2dGeom g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = weight[0], g.kh = weight[2], g.kw = weight[3];
  auto s = hw_attr(attrs, "stride", 1), p = hw_attr(attrs, "padding", 0), d = hw_attr(attrs, "dilation", 1);
  g.sh = s[0], g.sw = s[1], g.ph = p[0], g.pw = p[1], g.dh = d[0], g.dw = d[1];
  g.oh = window_out(g.h, g.kh, g.sh, g.ph, g.dh);
  g.ow = window_out(g.w, g.kw, g.sw, g.pw, g.dw);
  return g;
}

struct Pool2dGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int64_t oh = 0, ow = 0;

  int64_t planes() const { return n * c; }
  int64_t window() const { return kh * kw; }
};

// x [N,C,H,W]; attrs kernel, stride (absent: = kernel), padding.
inline Pool2dGeom pool2d_geom(const Shape& x, const Attrs& attrs) {
  Pool2dGeom g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  auto k = hw_attr(attrs, "kernel", 1), p = hw_attr(attrs, "padding", 0);
  auto s = attrs.has("stride") ? hw_attr(attrs, "stride", 1) : k;
  g.kh = k[0], g.kw = k[1], g.sh = s[0], g.sw = s[1], g.ph = p[0], g.pw = p[1];
  g.oh = window_out(g.h, g.kh, g.sh, g.ph, 1);
  g.ow = window_out(g.w, g.kw, g.sw, g.pw, 1);
  return g;
}

}  // namespace dagrad
