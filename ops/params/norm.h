// Typed parameters of layer normalisation and the [rows, cols] view of its input that
// the shape rules, vjps and every backend's kernels share. The POD part compiles in
// device code; the Shape helper is host-only.
#pragma once
#include <cstdint>

#include "runtime/hostdev.h"

#ifndef __CUDACC__
#include "runtime/shape.h"
#endif

namespace dagrad {

// ONNX LayerNormalization: x is normalised over its dims [axis, rank) (axis < 0 counts
// from the end, so -1 is the last dim alone, PyTorch's LayerNorm(d)), then scaled by
// gamma and shifted by beta when they are given (both of the normalised shape).
struct LayerNormParams {
  int64_t axis = -1;
  double epsilon = 1e-5;

  template <class V>
  static void fields(V& v) {
    v.field("axis", &LayerNormParams::axis);
    v.field("epsilon", &LayerNormParams::epsilon);
  }
};

// x viewed as [rows, cols]: each row (the dims before axis) is normalised over its cols
// (the product of the normalised dims).
struct RowGeom {
  int64_t rows = 0, cols = 1;
};

#ifndef __CUDACC__
// The first normalised dim of x for a (possibly negative) axis; -1 when out of range.
inline int layer_norm_first_dim(const Shape& x, int64_t axis) {
  const int64_t r = static_cast<int64_t>(x.rank());
  const int64_t a = axis < 0 ? axis + r : axis;
  return a < 0 || a >= r ? -1 : static_cast<int>(a);
}

inline RowGeom row_geom(const Shape& x, int first_dim) {
  RowGeom g{1, 1};
  for (size_t i = 0; i < x.rank(); ++i) (static_cast<int>(i) < first_dim ? g.rows : g.cols) *= x[i];
  return g;
}
#endif

}  // namespace dagrad
