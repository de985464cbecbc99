// Typed parameters of the shape family (reshape takes ShapeParams, ops/params/reduce.h).
#pragma once
#include <cstdint>
#include <vector>

namespace dagrad {

struct TransposeParams {
  int64_t dim0 = -2, dim1 = -1;

  template <class V>
  static void fields(V& v) {
    v.required("dim0", &TransposeParams::dim0);
    v.required("dim1", &TransposeParams::dim1);
  }
};

// Output dim i is input dim perm[i].
struct PermuteParams {
  std::vector<int64_t> perm;

  template <class V>
  static void fields(V& v) {
    v.required("perm", &PermuteParams::perm);
  }
};

// Elements [start, end) along axis; negative values count from the end.
struct SliceParams {
  int64_t axis = 0, start = 0, end = 0;

  template <class V>
  static void fields(V& v) {
    v.required("axis", &SliceParams::axis);
    v.required("start", &SliceParams::start);
    v.required("end", &SliceParams::end);
  }
};

struct ConcatParams {
  int64_t axis = 0;

  template <class V>
  static void fields(V& v) {
    v.field("axis", &ConcatParams::axis);
  }
};

}  // namespace dagrad
