// Reference cases of scaled_dot_product_attention and its backward op: plain loops in
// double over the whole [L,S] score matrix (what the fused kernels avoid), with and
// without masks (additive, key padding with -inf), causal with L < S, L = S and L > S,
// and sizes that cross the CPU kernel's 32-query and 64-key blocks.
#include <cmath>
#include <limits>

#include "op_cases.h"

namespace dagrad::testing {

namespace {

constexpr DType kDtypes[] = {DType::f32, DType::f64};
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

struct Setup {
  int64_t n, h, l, s, d, dv;
  double scale;  // 0: 1/sqrt(d)
  bool causal;
  Shape mask;    // empty rank with mask_kind 0: no mask
  int mask_kind;  // 0 none, 1 random additive, 2 key padding (0 / -inf per batch row)
};

const Setup kSetups[] = {
    {2, 3, 5, 7, 4, 6, 0, false, {}, 0},
    {1, 2, 6, 6, 8, 8, 0, true, {}, 0},
    {1, 2, 5, 8, 4, 4, 0, true, {}, 0},
    {1, 2, 8, 5, 4, 3, 0.5, true, {}, 0},
    {2, 2, 5, 7, 4, 4, 0, false, {5, 7}, 1},
    {2, 2, 4, 6, 4, 4, 0, false, {2, 1, 1, 6}, 2},
    {1, 1, 3, 4, 2, 2, 0.3, true, {1, 1, 3, 4}, 1},
    {1, 2, 70, 130, 8, 8, 0, false, {}, 0},
    {1, 1, 70, 70, 4, 4, 0, true, {}, 0},
    {2, 2, 6, 6, 4, 4, 0, false, {2, 1, 1, 6}, 2},
    // A head of one float32 vector (the ViT's 16), rows not a multiple of the kernels' four.
    {1, 2, 18, 18, 16, 16, 0, true, {}, 0},
};
// Setups with S = L and dv = d, which the packed layout can hold: causal, two key blocks,
// key padding.
const Setup kLayoutSetups[] = {kSetups[1], kSetups[8], kSetups[9]};

// The mask of the given kind; key padding hides the last (b + 1) keys of batch row b.
Tensor make_mask(const Setup& s, DType dt, uint64_t seed) {
  if (s.mask_kind == 1) return random_tensor(s.mask, dt, seed, -2.0, 2.0);
  return make_f64(s.mask, [&](int64_t f) {
           const int64_t b = f / s.mask[3], j = f % s.mask[3];
           return j >= s.mask[3] - (b + 1) ? kNegInf : 0.0;
         }).to_dtype(dt);
}

struct Geom {
  int64_t batch, heads, l, s, d, dv;
  double scale;
  bool causal;
  Geom(const std::vector<Tensor>& in, const Attrs& a)
      : batch(in[0].shape()[0] * in[0].shape()[1]),
        heads(in[0].shape()[1]),
        l(in[0].shape()[2]),
        s(in[1].shape()[2]),
        d(in[0].shape()[3]),
        dv(in[2].shape()[3]),
        scale(a.get_float("scale") != 0 ? a.get_float("scale") : 1.0 / std::sqrt(static_cast<double>(in[0].shape()[3]))),
        causal(a.get_bool("causal")) {}

  // scale·q_i·k_j + mask, -inf where causality hides key j.
  double score(const std::vector<Tensor>& in, const Tensor* mask, int64_t b, int64_t i, int64_t j) const {
    if (causal && j > i) return kNegInf;
    double acc = 0;
    for (int64_t c = 0; c < d; ++c) acc += at(in[0], (b * l + i) * d + c) * at(in[1], (b * s + j) * d + c);
    acc *= scale;
    if (mask) {
      const Shape full{batch / heads, heads, l, s};
      const int64_t flat = ((b * l) + i) * s + j;  // [N·H, L, S] = [N, H, L, S] flattened
      acc += at(*mask, broadcast_index(full, mask->shape(), flat));
    }
    return acc;
  }
};

std::vector<Tensor> attention_reference(const std::vector<Tensor>& in, const Attrs& a) {
  const Geom g(in, a);
  const Tensor* mask = in.size() > 3 ? &in[3] : nullptr;
  std::vector<double> out(static_cast<size_t>(g.batch * g.l * g.dv)), lse(static_cast<size_t>(g.batch * g.l));
  std::vector<double> p(static_cast<size_t>(g.s));
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t i = 0; i < g.l; ++i) {
      double m = kNegInf;
      for (int64_t j = 0; j < g.s; ++j) m = std::max(m, p[j] = g.score(in, mask, b, i, j));
      double sum = 0;
      for (int64_t j = 0; j < g.s; ++j) sum += p[j] = std::exp(p[j] - m);
      for (int64_t c = 0; c < g.dv; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < g.s; ++j) acc += p[j] * at(in[2], (b * g.s + j) * g.dv + c);
        out[(b * g.l + i) * g.dv + c] = acc / sum;
      }
      lse[b * g.l + i] = m + std::log(sum);
    }
  const Shape& q = in[0].shape();
  return {make_f64(Shape{q[0], q[1], q[2], g.dv}, [&](int64_t f) { return out[f]; }),
          make_f64(Shape{q[0], q[1], q[2]}, [&](int64_t f) { return lse[f]; })};
}

// dq, dk, dv of the backward op on q, k, v, out, lse, dout [, mask] [, cotangent of lse]:
// P = exp(S - lse) from the given lse, Δ = rowsum(dO⊙out) - (cotangent of lse),
// dS = P⊙(dO·vᵀ - Δ).
std::vector<Tensor> attention_backward_reference(const std::vector<Tensor>& in, const Attrs& a) {
  const Geom g(in, a);
  const bool lse_grad = a.has("lse_grad") && a.get_bool("lse_grad");
  const Tensor *out = &in[3], *lse = &in[4], *dout = &in[5];
  const Tensor* mask = in.size() == 7 + (lse_grad ? 1 : 0) ? &in[6] : nullptr;
  std::vector<double> delta(static_cast<size_t>(g.batch * g.l), 0.0);
  for (int64_t row = 0; row < g.batch * g.l; ++row) {
    for (int64_t c = 0; c < g.dv; ++c) delta[row] += at(*dout, row * g.dv + c) * at(*out, row * g.dv + c);
    if (lse_grad) delta[row] -= at(in.back(), row);
  }
  std::vector<double> dq(static_cast<size_t>(g.batch * g.l * g.d), 0.0), dk(static_cast<size_t>(g.batch * g.s * g.d), 0.0),
      dv(static_cast<size_t>(g.batch * g.s * g.dv), 0.0);
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t i = 0; i < g.l; ++i)
      for (int64_t j = 0; j < g.s; ++j) {
        const int64_t row = b * g.l + i, key = b * g.s + j;
        const double p = std::exp(g.score(in, mask, b, i, j) - at(*lse, row));
        double dp = 0;
        for (int64_t c = 0; c < g.dv; ++c) {
          dp += at(*dout, row * g.dv + c) * at(in[2], key * g.dv + c);
          dv[key * g.dv + c] += p * at(*dout, row * g.dv + c);
        }
        const double ds = g.scale * p * (dp - delta[row]);
        for (int64_t c = 0; c < g.d; ++c) {
          dq[row * g.d + c] += ds * at(in[1], key * g.d + c);
          dk[key * g.d + c] += ds * at(in[0], row * g.d + c);
        }
      }
  return {make_f64(in[0].shape(), [&](int64_t f) { return dq[f]; }),
          make_f64(in[1].shape(), [&](int64_t f) { return dk[f]; }),
          make_f64(in[2].shape(), [&](int64_t f) { return dv[f]; })};
}

// ---- the sequence-major layouts: NLHD tensors are [N,T,H,D], NL3HD's qkv [N,T,3,H,D] ----

// x [N,H,T,D] -> [N,T,H,D] and back (the same permutation of dims 1 and 2).
Tensor swap_heads(const Tensor& x) {
  const Shape& s = x.shape();
  return make_f64(Shape{s[0], s[2], s[1], s[3]}, [&](int64_t f) {
    const int64_t d = f % s[3], h = f / s[3] % s[1], t = f / (s[3] * s[1]) % s[2], n = f / (s[3] * s[1] * s[2]);
    return at(x, ((n * s[1] + h) * s[2] + t) * s[3] + d);
  });
}

// qkv [N,T,3,H,D] from q, k, v [N,H,T,D], or part `p` of it back as [N,H,T,D].
Tensor pack_qkv(const Tensor& q, const Tensor& k, const Tensor& v) {
  const Shape& s = q.shape();
  const Tensor* parts[] = {&q, &k, &v};
  return make_f64(Shape{s[0], s[2], 3, s[1], s[3]}, [&](int64_t f) {
    const int64_t d = f % s[3], h = f / s[3] % s[1], p = f / (s[3] * s[1]) % 3, t = f / (s[3] * s[1] * 3) % s[2],
                  n = f / (s[3] * s[1] * 3 * s[2]);
    return at(*parts[p], ((n * s[1] + h) * s[2] + t) * s[3] + d);
  });
}
Tensor unpack_qkv(const Tensor& qkv, int p) {
  const Shape& s = qkv.shape();  // [N,T,3,H,D]
  return make_f64(Shape{s[0], s[3], s[1], s[4]}, [&](int64_t f) {
    const int64_t d = f % s[4], t = f / s[4] % s[1], h = f / (s[4] * s[1]) % s[3], n = f / (s[4] * s[1] * s[3]);
    return at(qkv, (((n * s[1] + t) * 3 + p) * s[3] + h) * s[4] + d);
  });
}

// The reference of a layout: inputs converted to NHLD, outputs (and gradients) back.
std::vector<Tensor> in_layout(const std::string& layout, const std::vector<Tensor>& in, const Attrs& a,
                              std::vector<Tensor> (*nhld)(const std::vector<Tensor>&, const Attrs&), bool backward) {
  std::vector<Tensor> x;
  size_t rest = 3;
  if (layout == "NL3HD") {
    x = {unpack_qkv(in[0], 0), unpack_qkv(in[0], 1), unpack_qkv(in[0], 2)};
    rest = 1;
  } else {
    x = {swap_heads(in[0]), swap_heads(in[1]), swap_heads(in[2])};
  }
  // Backward: out and dout (after q, k, v) are sequence-major too.
  for (size_t i = rest; i < in.size(); ++i)
    x.push_back(backward && (i == rest || i == rest + 2) ? swap_heads(in[i]) : in[i]);
  std::vector<Tensor> y = nhld(x, a);
  if (!backward) return {swap_heads(y[0]), y[1]};
  if (layout == "NL3HD") return {pack_qkv(y[0], y[1], y[2])};
  return {swap_heads(y[0]), swap_heads(y[1]), swap_heads(y[2])};
}

std::string label(const char* what, const Setup& s, DType dt) {
  return str_cat(what, " N", s.n, " H", s.h, " L", s.l, " S", s.s, " d", s.d, " dv", s.dv, s.causal ? " causal" : "",
                 s.mask_kind == 1 ? " additive mask " : s.mask_kind == 2 ? " padding mask " : "",
                 s.mask_kind ? s.mask.to_string() : "", " ", dtype_name(dt));
}

}  // namespace

DAGRAD_OP_CASES("scaled_dot_product_attention") {
  std::vector<OpCase> cases;
  uint64_t seed = 900;
  for (DType dt : kDtypes)
    for (const Setup& s : kSetups) {
      OpCase k;
      k.label = label("attention", s, dt);
      k.inputs = {random_tensor(Shape{s.n, s.h, s.l, s.d}, dt, seed++), random_tensor(Shape{s.n, s.h, s.s, s.d}, dt, seed++),
                  random_tensor(Shape{s.n, s.h, s.s, s.dv}, dt, seed++)};
      if (s.mask_kind) k.inputs.push_back(make_mask(s, dt, seed++));
      k.attrs = Attrs{{"scale", s.scale}, {"causal", s.causal}};
      k.reference = attention_reference;
      cases.push_back(k);
    }
  return cases;
}

// NLHD and the packed NL3HD on a few setups: the same math, other memory walks.
DAGRAD_OP_CASES("scaled_dot_product_attention") {
  std::vector<OpCase> cases;
  uint64_t seed = 1100;
  for (DType dt : kDtypes)
    for (const char* layout : {"NLHD", "NL3HD"})
      for (const Setup& s : kLayoutSetups) {
        OpCase k;
        k.label = str_cat(label("attention", s, dt), " ", layout);
        const Tensor q = random_tensor(Shape{s.n, s.h, s.l, s.d}, dt, seed++),
                     key = random_tensor(Shape{s.n, s.h, s.s, s.d}, dt, seed++),
                     v = random_tensor(Shape{s.n, s.h, s.s, s.dv}, dt, seed++);
        if (std::string(layout) == "NL3HD")
          k.inputs = {pack_qkv(q, key, v).to_dtype(dt)};
        else
          k.inputs = {swap_heads(q).to_dtype(dt), swap_heads(key).to_dtype(dt), swap_heads(v).to_dtype(dt)};
        if (s.mask_kind) k.inputs.push_back(make_mask(s, dt, seed++));
        k.attrs = Attrs{{"scale", s.scale}, {"causal", s.causal}, {"layout", std::string(layout)}};
        k.reference = [l = std::string(layout)](const std::vector<Tensor>& in, const Attrs& a) {
          return in_layout(l, in, a, attention_reference, false);
        };
        if (std::string(layout) == "NL3HD") k.grad_inputs = {0};  // the mask (slot 1) gets no gradient
        cases.push_back(k);
      }
  return cases;
}

DAGRAD_OP_CASES("scaled_dot_product_attention_backward") {
  std::vector<OpCase> cases;
  uint64_t seed = 1200;
  for (DType dt : kDtypes)
    for (const char* layout : {"NLHD", "NL3HD"})
      for (const Setup& s : kLayoutSetups) {
        const Tensor q = random_tensor(Shape{s.n, s.h, s.l, s.d}, dt, seed++),
                     key = random_tensor(Shape{s.n, s.h, s.s, s.d}, dt, seed++),
                     v = random_tensor(Shape{s.n, s.h, s.s, s.dv}, dt, seed++);
        std::vector<Tensor> fwd_in{q, key, v};
        Tensor mask;
        if (s.mask_kind) fwd_in.push_back(mask = make_mask(s, dt, seed++));
        const std::vector<Tensor> fwd = attention_reference(fwd_in, Attrs{{"scale", s.scale}, {"causal", s.causal}});
        const Tensor lse = fwd[1].to_dtype(dt);
        const bool lse_grad = std::string(layout) == "NL3HD";
        OpCase k;
        k.label = str_cat(label("attention backward", s, dt), " ", layout, lse_grad ? " with an lse cotangent" : "");
        if (std::string(layout) == "NL3HD")
          k.inputs = {pack_qkv(q, key, v).to_dtype(dt)};
        else
          k.inputs = {swap_heads(q).to_dtype(dt), swap_heads(key).to_dtype(dt), swap_heads(v).to_dtype(dt)};
        k.inputs.push_back(swap_heads(fwd[0]).to_dtype(dt));                         // out, sequence-major
        k.inputs.push_back(lse);
        k.inputs.push_back(random_tensor(Shape{s.n, s.l, s.h, s.dv}, dt, seed++));  // dout, sequence-major
        if (s.mask_kind) k.inputs.push_back(mask);
        if (lse_grad) k.inputs.push_back(random_tensor(lse.shape(), dt, seed++));
        k.attrs = Attrs{{"scale", s.scale}, {"causal", s.causal}, {"layout", std::string(layout)}, {"lse_grad", lse_grad}};
        k.reference = [l = std::string(layout)](const std::vector<Tensor>& in, const Attrs& a) {
          return in_layout(l, in, a, attention_backward_reference, true);
        };
        k.tol = 1e-4;
        k.skip_grad = true;
        cases.push_back(k);
      }
  return cases;
}

DAGRAD_OP_CASES("scaled_dot_product_attention_backward") {
  std::vector<OpCase> cases;
  uint64_t seed = 1000;
  for (DType dt : kDtypes)
    for (const Setup& s : kSetups) {
      OpCase k;
      k.label = label("attention backward", s, dt);
      Tensor q = random_tensor(Shape{s.n, s.h, s.l, s.d}, dt, seed++);
      Tensor key = random_tensor(Shape{s.n, s.h, s.s, s.d}, dt, seed++);
      Tensor v = random_tensor(Shape{s.n, s.h, s.s, s.dv}, dt, seed++);
      std::vector<Tensor> fwd_in{q, key, v};
      if (s.mask_kind) fwd_in.push_back(make_mask(s, dt, seed++));
      // out and lse as the forward op computes them; every other case adds a cotangent of lse.
      const bool lse_grad = seed % 2 == 0;
      const std::vector<Tensor> fwd = attention_reference(fwd_in, Attrs{{"scale", s.scale}, {"causal", s.causal}});
      k.label += lse_grad ? " with an lse cotangent" : "";
      k.inputs = {q, key, v, fwd[0].to_dtype(dt), fwd[1].to_dtype(dt), random_tensor(Shape{s.n, s.h, s.l, s.dv}, dt, seed++)};
      if (s.mask_kind) k.inputs.push_back(fwd_in[3]);
      if (lse_grad) k.inputs.push_back(random_tensor(fwd[1].shape(), dt, seed++));
      k.attrs = Attrs{{"scale", s.scale}, {"causal", s.causal}, {"lse_grad", lse_grad}};
      k.reference = attention_backward_reference;
      k.tol = 1e-4;  // float32 sums over up to 130 keys
      k.skip_grad = true;  // not differentiable again (see attention_ops.cpp)
      cases.push_back(k);
    }
  return cases;
}

}  // namespace dagrad::testing
