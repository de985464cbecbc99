// Typed parameters of the nn family (dropout, batch norm, confusion matrix) and the
// per-channel view of batch norm's input, shared by the shape rules, vjps and every
// backend's kernels. The POD part compiles in device code; the Shape helper is host-only.
#pragma once
#include <cstdint>

#include "runtime/dtype.h"
#include "runtime/hostdev.h"

#ifndef __CUDACC__
#include "runtime/shape.h"
#endif

namespace dagrad {

// Inverted dropout: zero with probability p, scale the rest by 1/(1-p). The mask is a
// function of (seed, run step, offset + element index); a data-parallel rank's offset
// continues the global batch's indices.
struct DropoutParams {
  double p = 0.5;
  int64_t seed = 0;
  bool training = true;
  int64_t offset = 0;

  template <class V>
  static void fields(V& v) {
    v.required("p", &DropoutParams::p);
    v.field("seed", &DropoutParams::seed);
    v.field("training", &DropoutParams::training);
    v.field("offset", &DropoutParams::offset);
  }
};

struct BatchNormParams {
  bool training = true;
  double momentum = 0.1;
  double eps = 1e-5;

  template <class V>
  static void fields(V& v) {
    v.required("training", &BatchNormParams::training);
    v.field("momentum", &BatchNormParams::momentum);
    v.field("eps", &BatchNormParams::eps);
  }
};

// confusion_matrix: counts of (target, predicted) class pairs among num_classes classes.
struct ConfusionParams {
  int64_t num_classes = 0;

  template <class V>
  static void fields(V& v) {
    v.required("num_classes", &ConfusionParams::num_classes);
  }
};

// one_hot: integer indices -> a new axis of `depth` with 1 at the index, 0 elsewhere; an
// index outside [0, depth) gives a row of zeros (after adding depth to a negative index
// when negative_wraps, as ONNX's OneHot does).
struct OneHotParams {
  int64_t depth = 0;
  int64_t axis = -1;  // where the new axis goes, in the output's rank
  bool negative_wraps = false;
  DType dtype = DType::f32;

  template <class V>
  static void fields(V& v) {
    v.required("depth", &OneHotParams::depth);
    v.field("axis", &OneHotParams::axis);
    v.field("negative_wraps", &OneHotParams::negative_wraps);
    v.field("dtype", &OneHotParams::dtype);
  }
};

// x [N,C,...] viewed as [N, C, S] (S = H·W, or 1 for [N,C]).
struct ChannelGeom {
  int64_t n = 0, c = 0, s = 1;
  DAGRAD_HD int64_t count() const { return n * s; }  // values per channel
};

#ifndef __CUDACC__
inline ChannelGeom channel_geom(const Shape& x) {
  ChannelGeom g{x[0], x[1], 1};
  for (size_t i = 2; i < x.rank(); ++i) g.s *= x[i];
  return g;
}

// one_hot's output viewed as [outer, depth, inner] around the new axis.
struct OneHotLayout {
  int64_t outer = 1, inner = 1;
};
inline OneHotLayout one_hot_layout(const OneHotParams& p, const Shape& out) {
  const int64_t rank = static_cast<int64_t>(out.rank()), axis = p.axis < 0 ? p.axis + rank : p.axis;
  OneHotLayout l;
  for (int64_t d = 0; d < axis; ++d) l.outer *= out[d];
  for (int64_t d = axis + 1; d < rank; ++d) l.inner *= out[d];
  return l;
}
#endif

}  // namespace dagrad
