// Typed parameters of scaled_dot_product_attention and its backward op, and the geometry
// both backends loop over. The POD part compiles in device code.
#pragma once
#include <cstdint>

#include "runtime/hostdev.h"

#ifndef __CUDACC__
#include <cmath>

#include "runtime/shape.h"
#endif

namespace dagrad {

// softmax(q·kᵀ·scale + mask)·v over q [N,H,L,d], k [N,H,S,d], v [N,H,S,dv]. scale 0 means
// 1/sqrt(d). causal: query i attends keys j <= i only (top-left aligned, PyTorch's
// is_causal and ONNX Attention's). The optional additive mask input broadcasts to
// [N,H,L,S] (e.g. [L,S], or [N,1,1,S] for key padding: 0 attends, -inf ignores).
struct AttentionParams {
  double scale = 0;
  bool causal = false;

  template <class V>
  static void fields(V& v) {
    v.field("scale", &AttentionParams::scale);
    v.field("causal", &AttentionParams::causal);
  }
};

// The loops of every attention kernel: batch = N·H independent (query, key) problems.
// The mask, when present, is read at n·mask_sn + h·mask_sh + i·mask_sl + j·mask_ss
// (stride 0 along broadcast dims).
struct AttentionGeom {
  int64_t batch = 0, heads = 1, l = 0, s = 0, d = 0, dv = 0;
  double scale = 1;
  bool causal = false;
  bool has_mask = false;
  int64_t mask_sn = 0, mask_sh = 0, mask_sl = 0, mask_ss = 0;

  DAGRAD_HD int64_t mask_offset(int64_t b, int64_t i, int64_t j) const {
    return (b / heads) * mask_sn + (b % heads) * mask_sh + i * mask_sl + j * mask_ss;
  }
  // Keys [0, key_end(i)) are visible to query i.
  DAGRAD_HD int64_t key_end(int64_t i) const { return causal ? (i + 1 < s ? i + 1 : s) : s; }
};

#ifndef __CUDACC__
// The geometry of checked shapes (see infer_attention): q [N,H,L,d], k [N,H,S,d],
// v [N,H,S,dv], mask (null: none) broadcastable to [N,H,L,S].
inline AttentionGeom attention_geom(const Shape& q, const Shape& k, const Shape& v, const Shape* mask,
                                    const AttentionParams& p) {
  AttentionGeom g;
  g.heads = q[1];
  g.batch = q[0] * q[1];
  g.l = q[2];
  g.s = k[2];
  g.d = q[3];
  g.dv = v[3];
  g.scale = p.scale != 0 ? p.scale : 1.0 / std::sqrt(static_cast<double>(g.d));
  g.causal = p.causal;
  if (mask) {
    g.has_mask = true;
    int64_t stride = 1, strides[4] = {0, 0, 0, 0};
    for (size_t i = mask->rank(); i-- > 0;) {
      const size_t dim = 4 - (mask->rank() - i);
      if ((*mask)[i] != 1) strides[dim] = stride;
      stride *= (*mask)[i];
    }
    g.mask_sn = strides[0];
    g.mask_sh = strides[1];
    g.mask_sl = strides[2];
    g.mask_ss = strides[3];
  }
  return g;
}
#endif

}  // namespace dagrad
