// Typed parameters of gather (ONNX Gather, the embedding lookup) and its backward op, and
// the [outer, axis, inner] view both backends index with. The POD part compiles in device
// code; gather_geom is host-only.
#pragma once
#include <cstdint>
#include <vector>

#ifndef __CUDACC__
#include "runtime/shape.h"
#endif

namespace dagrad {

// out = data indexed along `axis` by int64 indices (negative ones count from the end, as
// in ONNX): out.shape = data.shape[:axis] + indices.shape + data.shape[axis+1:].
struct GatherParams {
  int64_t axis = 0;

  template <class V>
  static void fields(V& v) {
    v.field("axis", &GatherParams::axis);
  }
};

// The scatter-add adjoint of gather needs the data's shape, which it writes.
struct GatherBackwardParams {
  int64_t axis = 0;
  std::vector<int64_t> data_shape;

  template <class V>
  static void fields(V& v) {
    v.field("axis", &GatherBackwardParams::axis);
    v.required("data_shape", &GatherBackwardParams::data_shape);
  }
};

// data viewed as [outer, n, inner] along the axis, `count` indices: out is [outer, count, inner].
struct GatherGeom {
  int64_t outer = 1, n = 1, inner = 1, count = 0;
};

#ifndef __CUDACC__
inline GatherGeom gather_geom(const Shape& data, int64_t axis, int64_t count) {
  const int64_t r = static_cast<int64_t>(data.rank());
  const size_t a = static_cast<size_t>(axis < 0 ? axis + r : axis);
  GatherGeom g;
  g.n = data[a];
  g.count = count;
  for (size_t i = 0; i < data.rank(); ++i) {
    if (i < a) g.outer *= data[i];
    if (i > a) g.inner *= data[i];
  }
  return g;
}
#endif

}  // namespace dagrad
