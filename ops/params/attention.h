// Typed parameters of scaled_dot_product_attention and its backward op, the memory
// layouts it reads, and the geometry both backends loop over. The POD part compiles in
// device code.
#pragma once
#include <cstdint>
#include <string>

#include "runtime/hostdev.h"

#ifndef __CUDACC__
#include <cmath>

#include "runtime/shape.h"
#endif

namespace dagrad {

// softmax(q·kᵀ·scale + mask)·v with N samples, H heads, L queries, S keys, head dims d
// (q, k) and dv (v). scale 0 means 1/sqrt(d). causal: query i attends keys j <= i only
// (top-left aligned, PyTorch's is_causal and ONNX Attention's). The optional additive
// mask input broadcasts to [N,H,L,S] (e.g. [L,S], or [N,1,1,S] for key padding: 0
// attends, -inf ignores). `layout` says how the inputs and the output lie in memory:
//   "NHLD"   q [N,H,L,d], k [N,H,S,d], v [N,H,S,dv] -> out [N,H,L,dv] (the default)
//   "NLHD"   q [N,L,H,d], k [N,S,H,d], v [N,S,H,dv] -> out [N,L,H,dv] (FlashAttention's;
//            a [N,L,H·d] projection reshaped, so multi-head attention needs no permute)
//   "NL3HD"  one input qkv [N,L,3,H,d] holding q, k and v (self-attention, S = L, the
//            output of one [E, 3E] projection reshaped) -> out [N,L,H,d]
// The row log-sum-exp output is [N,H,L] in every layout. lse_grad is the backward op's
// alone: its last input is then the cotangent of lse.
struct AttentionParams {
  double scale = 0;
  bool causal = false;
  std::string layout = "NHLD";
  bool lse_grad = false;

  template <class V>
  static void fields(V& v) {
    v.field("scale", &AttentionParams::scale);
    v.field("causal", &AttentionParams::causal);
    v.field("layout", &AttentionParams::layout);
    v.field("lse_grad", &AttentionParams::lse_grad);
  }
};

enum class AttentionLayout : uint8_t { nhld, nlhd, packed };

// Where row i (a query, or a key) of problem b = n·H + h starts in its buffer; the row's
// dims are contiguous.
struct AttentionRows {
  int64_t base = 0, sn = 0, sh = 0, sl = 0;
  DAGRAD_HD int64_t at(int64_t b, int64_t heads, int64_t i) const {
    return base + (b / heads) * sn + (b % heads) * sh + i * sl;
  }
};

// The loops of every attention kernel: batch = N·H independent (query, key) problems.
// q, k, v (and their gradients) and out (and dout) are read through their row layouts;
// lse (and its cotangent) are [batch, l]. The mask, when present, is read at n·mask_sn + h·mask_sh
// + i·mask_sl + j·mask_ss (stride 0 along broadcast dims).
struct AttentionGeom {
  int64_t batch = 0, heads = 1, l = 0, s = 0, d = 0, dv = 0;
  double scale = 1;
  bool causal = false;
  bool has_mask = false;
  int64_t mask_sn = 0, mask_sh = 0, mask_sl = 0, mask_ss = 0;
  AttentionRows q, k, v, o;

  DAGRAD_HD int64_t q_at(int64_t b, int64_t i) const { return q.at(b, heads, i); }
  DAGRAD_HD int64_t k_at(int64_t b, int64_t j) const { return k.at(b, heads, j); }
  DAGRAD_HD int64_t v_at(int64_t b, int64_t j) const { return v.at(b, heads, j); }
  DAGRAD_HD int64_t o_at(int64_t b, int64_t i) const { return o.at(b, heads, i); }
  DAGRAD_HD int64_t mask_offset(int64_t b, int64_t i, int64_t j) const {
    return (b / heads) * mask_sn + (b % heads) * mask_sh + i * mask_sl + j * mask_ss;
  }
  // Keys [0, key_end(i)) are visible to query i.
  DAGRAD_HD int64_t key_end(int64_t i) const { return causal ? (i + 1 < s ? i + 1 : s) : s; }
};

#ifndef __CUDACC__
// The kernels' input slots of q, k, v (one packed qkv for NL3HD) and of the first input
// after them.
struct AttentionSlots {
  size_t q = 0, k = 1, v = 2, next = 3;
  explicit AttentionSlots(const AttentionParams& p) {
    if (p.layout == "NL3HD") k = v = 0, next = 1;
  }
};

// The layout a parameter string names, or -1 (shape inference reports it).
inline int attention_layout_of(const std::string& s) {
  if (s == "NHLD") return static_cast<int>(AttentionLayout::nhld);
  if (s == "NLHD") return static_cast<int>(AttentionLayout::nlhd);
  if (s == "NL3HD") return static_cast<int>(AttentionLayout::packed);
  return -1;
}

// The sizes of a checked attention: from q, k, v of the layout (packed: q = k = v = qkv).
struct AttentionSizes {
  int64_t n = 0, h = 0, l = 0, s = 0, d = 0, dv = 0;
};
inline AttentionSizes attention_sizes(AttentionLayout layout, const Shape& q, const Shape& k, const Shape& v) {
  switch (layout) {
    case AttentionLayout::nhld: return {q[0], q[1], q[2], k[2], q[3], v[3]};
    case AttentionLayout::nlhd: return {q[0], q[2], q[1], k[1], q[3], v[3]};
    case AttentionLayout::packed: return {q[0], q[3], q[1], q[1], q[4], q[4]};
  }
  return {};
}

// Rows of a [N, H, T, D] (head-major) or [N, T, H, D] (sequence-major) tensor; a packed
// [N, T, 3, H, D] is sequence-major with rows 3·H·D apart, q, k and v at 0, H·D, 2·H·D.
inline AttentionRows attention_rows(AttentionLayout layout, int64_t h, int64_t t, int64_t dim, int part = 0) {
  switch (layout) {
    case AttentionLayout::nhld: return {0, h * t * dim, t * dim, dim};
    case AttentionLayout::nlhd: return {0, t * h * dim, dim, h * dim};
    case AttentionLayout::packed: return {part * h * dim, t * 3 * h * dim, dim, 3 * h * dim};
  }
  return {};
}

// The geometry of checked shapes (see infer_attention): q, k, v as the layout has them
// (all three the packed qkv for NL3HD), the mask (null: none) broadcastable to [N,H,L,S].
inline AttentionGeom attention_geom(const Shape& q, const Shape& k, const Shape& v, const Shape* mask,
                                    const AttentionParams& p) {
  const AttentionLayout layout = static_cast<AttentionLayout>(attention_layout_of(p.layout));
  const AttentionSizes z = attention_sizes(layout, q, k, v);
  AttentionGeom g;
  g.heads = z.h;
  g.batch = z.n * z.h;
  g.l = z.l;
  g.s = z.s;
  g.d = z.d;
  g.dv = z.dv;
  g.scale = p.scale != 0 ? p.scale : 1.0 / std::sqrt(static_cast<double>(g.d));
  g.causal = p.causal;
  g.q = attention_rows(layout, z.h, z.l, z.d, 0);
  g.k = attention_rows(layout, z.h, z.s, z.d, 1);
  g.v = attention_rows(layout, z.h, z.s, z.dv, 2);
  g.o = attention_rows(layout == AttentionLayout::packed ? AttentionLayout::nlhd : layout, z.h, z.l, z.dv);
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
