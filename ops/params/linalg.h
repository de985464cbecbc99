// Typed parameters of matmul and the GEMM dimensions every backend derives from them.
#pragma once
#include <cstdint>

namespace dagrad {

// [..., M, K] x [..., K, N]; trans_a / trans_b read the last two dims transposed.
struct MatmulParams {
  bool trans_a = false, trans_b = false;

  template <class V>
  static void fields(V& v) {
    v.field("trans_a", &MatmulParams::trans_a);
    v.field("trans_b", &MatmulParams::trans_b);
  }
};

}  // namespace dagrad
