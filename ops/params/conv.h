// Typed parameters and window geometry of convolution and pooling (NCHW), the one
// definition that shape rules, vjps, cost models and every backend's kernels read. The
// POD part compiles in device code (nvcc, C++17); the helpers that take a Shape are
// host-only.
#pragma once
#include <cstdint>

#include "runtime/hostdev.h"

#ifndef __CUDACC__
#include <vector>

#include "runtime/shape.h"
#endif

namespace dagrad {

// A (height, width) pair; one integer means both: {.stride = 2}.
struct Hw {
  int64_t h = 0, w = 0;
  constexpr Hw() = default;
  constexpr Hw(int64_t v) : h(v), w(v) {}
  constexpr Hw(int64_t hh, int64_t ww) : h(hh), w(ww) {}
  constexpr bool operator==(const Hw& o) const { return h == o.h && w == o.w; }
};

// conv2d: x [N,C,H,W], weight [O,C/groups,KH,KW].
struct ConvParams {
  Hw stride{1};
  Hw padding{0};
  Hw dilation{1};
  int64_t groups = 1;

  template <class V>
  static void fields(V& v) {
    v.field("stride", &ConvParams::stride);
    v.field("padding", &ConvParams::padding);
    v.field("dilation", &ConvParams::dilation);
    v.field("groups", &ConvParams::groups);
  }
};

// max/avg pooling windows. A stride not given (0 in the struct, absent as an attribute)
// is the kernel size.
struct PoolParams {
  Hw kernel{2};
  Hw stride{0};
  Hw padding{0};

  template <class V>
  static void fields(V& v) {
    v.required("kernel", &PoolParams::kernel);
    v.field_or("stride", &PoolParams::stride, &PoolParams::kernel);
    v.field("padding", &PoolParams::padding);
  }
};

// Output length of a sliding window along one axis (floor mode); <= 0 means empty.
DAGRAD_HD int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// The outputs [lo, hi) of a sliding window whose input index out*stride + offset lies
// in [0, in): the part of an output row that reads inside the image for one kernel tap.
struct ValidRange {
  int64_t lo, hi;
};
DAGRAD_HD ValidRange valid_outputs(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - offset <= 0 ? 0 : (in - offset + stride - 1) / stride;
  lo = lo < out ? lo : out;
  hi = hi < lo ? lo : (hi > out ? out : hi);
  return {lo, hi};
}

struct ConvGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t o = 0, kh = 0, kw = 0;       // weight [O,C/groups,KH,KW]
  int64_t oh = 0, ow = 0;              // output
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;

  DAGRAD_HD int64_t patch() const { return c * kh * kw; }  // rows of the im2col matrix
  DAGRAD_HD int64_t out_pixels() const { return oh * ow; }
  DAGRAD_HD int64_t in_pixels() const { return h * w; }
  // A 1x1, stride-1, unpadded convolution reads the image itself as its im2col matrix.
  DAGRAD_HD bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

struct PoolGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int64_t oh = 0, ow = 0;

  DAGRAD_HD int64_t planes() const { return n * c; }
  DAGRAD_HD int64_t window() const { return kh * kw; }
};

// The in-image part [h0,h1) x [w0,w1) of output (oh, ow)'s window; padding is excluded.
// Windows are never empty: shape inference keeps padding at most half the kernel.
struct Window {
  int64_t h0, h1, w0, w1;
};
DAGRAD_HD Window window_of(const PoolGeom& g, int64_t oh, int64_t ow) {
  const int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  return {hs > 0 ? hs : 0, hs + g.kh < g.h ? hs + g.kh : g.h, ws > 0 ? ws : 0, ws + g.kw < g.w ? ws + g.kw : g.w};
}

// Index in the plane of the window's maximum: the first maximum in row-major order, or,
// when the window holds NaNs, the last NaN (NaN propagates, as in PyTorch). Forward,
// backward and gather use it on every backend, so a gradient goes exactly where the
// forward's value came from. The update is written without short-circuits: on the CPU
// it compiles to conditional moves (a branch on random data mispredicts half the time).
template <class T>
DAGRAD_HD int64_t window_argmax(const T* plane, int64_t width, const Window& win) {
  int64_t best = win.h0 * width + win.w0;
  T best_v = plane[best];
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) {
      const int64_t i = ih * width + iw;
      const T v = plane[i];
      const bool take = (v > best_v) | (v != v);
      best = take ? i : best;
      best_v = take ? v : best_v;
    }
  return best;
}

// max_pool2d's second output: per window, where its maximum lies, as i * kw + j for the
// window's tap (i, j) counted from its unclipped corner (padding included), in uint16. The
// gradient and the gather read it instead of x, so x need not be kept for the backward
// pass. Shape inference refuses windows of more positions than uint16 holds.
typedef uint16_t PoolIndex;
inline constexpr int64_t kMaxPoolWindow = 65536;
DAGRAD_HD PoolIndex window_position(const PoolGeom& g, int64_t oh, int64_t ow, int64_t plane_index) {
  const int64_t i = plane_index / g.w - (oh * g.sh - g.ph), j = plane_index % g.w - (ow * g.sw - g.pw);
  return static_cast<PoolIndex>(i * g.kw + j);
}
// Where window (oh, ow)'s position pos lies in the plane, or -1 when it is past the window
// or in the padding (no index max_pool2d gives): such an index selects nothing.
DAGRAD_HD int64_t plane_index_of(const PoolGeom& g, int64_t oh, int64_t ow, PoolIndex pos) {
  const int64_t ih = oh * g.sh - g.ph + pos / g.kw, iw = ow * g.sw - g.pw + pos % g.kw;
  if (pos >= g.kh * g.kw || ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return -1;
  return ih * g.w + iw;
}

#ifndef __CUDACC__

// conv2d_backward_input: the forward's parameters and x's shape.
struct ConvInputGradParams : ConvParams {
  std::vector<int64_t> x_shape;
  template <class V>
  static void fields(V& v) {
    ConvParams::fields(v);
    v.required("x_shape", &ConvInputGradParams::x_shape);
  }
};

// conv2d_backward_weight: the forward's parameters and the weight's shape.
struct ConvWeightGradParams : ConvParams {
  std::vector<int64_t> w_shape;
  template <class V>
  static void fields(V& v) {
    ConvParams::fields(v);
    v.required("w_shape", &ConvWeightGradParams::w_shape);
  }
};

// max_pool2d_backward and avg_pool2d_backward: the forward's windows and x's shape.
struct PoolGradParams : PoolParams {
  std::vector<int64_t> x_shape;
  template <class V>
  static void fields(V& v) {
    PoolParams::fields(v);
    v.required("x_shape", &PoolGradParams::x_shape);
  }
};

// conv2d_max_pool2d: the convolution's parameters and the pooling's, prefixed "pool_".
struct ConvPoolParams : ConvParams {
  Hw pool_kernel{2};
  Hw pool_stride{0};
  Hw pool_padding{0};
  PoolParams pool() const { return {pool_kernel, pool_stride, pool_padding}; }
  template <class V>
  static void fields(V& v) {
    ConvParams::fields(v);
    v.required("pool_kernel", &ConvPoolParams::pool_kernel);
    v.field_or("pool_stride", &ConvPoolParams::pool_stride, &ConvPoolParams::pool_kernel);
    v.field("pool_padding", &ConvPoolParams::pool_padding);
  }
};

// x [N,C,H,W], weight [O,C/groups,KH,KW].
inline ConvGeom conv_geom(const Shape& x, const Shape& weight, const ConvParams& p) {
  ConvGeom g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = weight[0], g.kh = weight[2], g.kw = weight[3];
  g.sh = p.stride.h, g.sw = p.stride.w, g.ph = p.padding.h, g.pw = p.padding.w;
  g.dh = p.dilation.h, g.dw = p.dilation.w;
  g.oh = window_out(g.h, g.kh, g.sh, g.ph, g.dh);
  g.ow = window_out(g.w, g.kw, g.sw, g.pw, g.dw);
  return g;
}

// x [N,C,H,W]; p as decoded from a node (stride set).
inline PoolGeom pool_geom(int64_t n, int64_t c, int64_t h, int64_t w, const PoolParams& p) {
  PoolGeom g;
  g.n = n, g.c = c, g.h = h, g.w = w;
  g.kh = p.kernel.h, g.kw = p.kernel.w, g.sh = p.stride.h, g.sw = p.stride.w, g.ph = p.padding.h, g.pw = p.padding.w;
  g.oh = window_out(g.h, g.kh, g.sh, g.ph, 1);
  g.ow = window_out(g.w, g.kw, g.sw, g.pw, 1);
  return g;
}
inline PoolGeom pool_geom(const Shape& x, const PoolParams& p) { return pool_geom(x[0], x[1], x[2], x[3], p); }

#endif  // __CUDACC__

}  // namespace dagrad
