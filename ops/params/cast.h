// Typed parameters of cast: the dtype its output has.
#pragma once
#include "runtime/dtype.h"

namespace dagrad {

struct CastParams {
  DType to = DType::f32;

  template <class V>
  static void fields(V& v) {
    v.required("to", &CastParams::to);
  }
};

}  // namespace dagrad
