// Typed parameters of the reductions and of the ops along one axis (softmax, argmax),
// and the [outer, n, inner] view of a tensor along an axis that their kernels use.
#pragma once
#include <cstdint>
#include <vector>

namespace dagrad {

// sum, mean, max: axes empty = all; negative axes count from the end.
struct AxesParams {
  std::vector<int64_t> axes;
  bool keepdims = false;

  template <class V>
  static void fields(V& v) {
    v.field("axes", &AxesParams::axes);
    v.field("keepdims", &AxesParams::keepdims);
  }
};

// softmax, log_softmax, argmax, concat: one axis, negative from the end.
struct AxisParams {
  int64_t axis = -1;

  template <class V>
  static void fields(V& v) {
    v.field("axis", &AxisParams::axis);
  }
};

// A target shape: reshape (one dim may be -1), sum_to, broadcast_to.
struct ShapeParams {
  std::vector<int64_t> shape;

  template <class V>
  static void fields(V& v) {
    v.required("shape", &ShapeParams::shape);
  }
};

// A tensor seen along one axis as [outer, n, inner].
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};

}  // namespace dagrad
