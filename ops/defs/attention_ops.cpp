// Fused scaled-dot-product attention and its backward op. The forward keeps only the
// output and each query row's log-sum-exp of the scores; the backward recomputes the
// probabilities from them tile by tile, so neither holds an [N,H,L,S] tensor
// (FlashAttention's scheme). Kernels: ops/cpu/attention.cpp, ops/cuda/attention.cu. The
// composed form (matmul, softmax, matmul) is kept as the reference:
// scaled_dot_product_attention_composed.
#include <cmath>

#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/attention.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *scaled_dot_product_attention, *scaled_dot_product_attention_backward;
}  // namespace op

namespace {

double bytes_of(const TensorType& t) { return static_cast<double>(t.shape.numel() * dtype_size(t.dtype)); }

// The layout of the node's parameters, or a ValueError naming the choices.
AttentionLayout layout_of(const InferContext& c) {
  const std::string& s = c.params<AttentionParams>().layout;
  const int layout = attention_layout_of(s);
  if (layout < 0)
    throw ValueError(str_cat("[", c.op.name, "] layout must be NHLD, NLHD or NL3HD, got '", s, "'"));
  return static_cast<AttentionLayout>(layout);
}

// How many input slots hold q, k and v: 3, or 1 for the packed qkv.
size_t qkv_slots(AttentionLayout layout) { return layout == AttentionLayout::packed ? 1 : 3; }

// q, k, v of the layout (or the packed qkv) from slot 0 and, in slot `mask_slot` when
// present, an additive mask broadcastable to [N,H,L,S]; all of one floating dtype.
// Returns the sizes.
AttentionSizes check_qkv(const InferContext& c, AttentionLayout layout, size_t mask_slot) {
  const TensorType& q = c.inputs[0];
  if (!is_floating(q.dtype))
    throw TypeError(str_cat("[", c.op.name, "] q must be float32 or float64, got ", dtype_name(q.dtype)));
  for (size_t i = 1; i < c.inputs.size(); ++i)
    if (c.inputs[i].dtype != q.dtype)
      throw TypeError(str_cat("[", c.op.name, "] input ", i, " is ", dtype_name(c.inputs[i].dtype), " but q is ",
                              dtype_name(q.dtype)));
  const double scale = c.params<AttentionParams>().scale;
  if (!std::isfinite(scale) || scale < 0)
    throw ValueError(str_cat("[", c.op.name, "] scale must be finite and >= 0 (0: 1/sqrt(dim)), got ", scale));
  AttentionSizes z;
  if (layout == AttentionLayout::packed) {
    if (q.shape.rank() != 5 || q.shape[2] != 3)
      c.fail(str_cat("qkv must be 5-D [N, length, 3, heads, dim] (layout NL3HD), got shape ", q.shape.to_string()));
    z = attention_sizes(layout, q.shape, q.shape, q.shape);
  } else {
    const TensorType &k = c.inputs[1], &v = c.inputs[2];
    const bool heads_first = layout == AttentionLayout::nhld;
    const char* names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i)
      if (c.inputs[i].shape.rank() != 4)
        c.fail(str_cat(names[i], " must be 4-D ", heads_first ? "[N, heads, length, dim]" : "[N, length, heads, dim]",
                       " (layout ", c.params<AttentionParams>().layout, "), got shape ", c.inputs[i].shape.to_string()));
    const std::string shapes = str_cat(" (q ", q.shape.to_string(), ", k ", k.shape.to_string(), ", v ",
                                       v.shape.to_string(), ", layout ", c.params<AttentionParams>().layout, ")");
    const size_t head_dim = heads_first ? 1 : 2, len_dim = heads_first ? 2 : 1;
    if (k.shape[0] != q.shape[0] || v.shape[0] != q.shape[0] || k.shape[head_dim] != q.shape[head_dim] ||
        v.shape[head_dim] != q.shape[head_dim])
      c.fail("q, k and v must have the same batch and head dims" + shapes);
    if (k.shape[3] != q.shape[3]) c.fail("q and k must have the same last dim" + shapes);
    if (v.shape[len_dim] != k.shape[len_dim]) c.fail("k and v must have the same number of keys" + shapes);
    z = attention_sizes(layout, q.shape, k.shape, v.shape);
    if (z.s == 0 && z.l > 0) c.fail("there are no keys to attend to" + shapes);
  }
  if (mask_slot >= c.inputs.size()) return z;
  const Shape& m = c.inputs[mask_slot].shape;
  const int64_t full[4] = {z.n, z.h, z.l, z.s};
  bool ok = m.rank() <= 4;
  for (size_t i = 0; ok && i < m.rank(); ++i) {
    const int64_t want = full[4 - m.rank() + i];
    ok = m[i] == 1 || m[i] == want;
  }
  if (!ok)
    c.fail(str_cat("mask of shape ", m.to_string(), " does not broadcast to the scores [N,H,L,S] = [", full[0], ",",
                   full[1], ",", full[2], ",", full[3], "]"));
  return z;
}

// out: [N,H,L,dv] for NHLD, [N,L,H,dv] otherwise; lse: [N,H,L].
std::vector<TensorType> attention_outputs(AttentionLayout layout, const AttentionSizes& z, DType dt) {
  const Shape out = layout == AttentionLayout::nhld ? Shape{z.n, z.h, z.l, z.dv} : Shape{z.n, z.l, z.h, z.dv};
  return {TensorType{out, dt}, TensorType{Shape{z.n, z.h, z.l}, dt}};
}

// Inputs q, k, v (or qkv) and optionally the mask; outputs out, lse.
std::vector<TensorType> infer_attention(const InferContext& c) {
  const AttentionLayout layout = layout_of(c);
  const size_t n = qkv_slots(layout);
  if (c.inputs.size() != n && c.inputs.size() != n + 1)
    c.fail(n == 3 ? str_cat("expects q, k, v and optionally an additive mask (3 or 4 inputs), got ", c.inputs.size())
                  : str_cat("expects qkv and optionally an additive mask (1 or 2 inputs, layout NL3HD), got ",
                            c.inputs.size()));
  return attention_outputs(layout, check_qkv(c, layout, n), c.inputs[0].dtype);
}

// Inputs q, k, v (or qkv), out, lse, dout, then optionally the mask and, with lse_grad,
// the cotangent of lse; outputs the gradients of q, k and v (or qkv).
std::vector<TensorType> infer_attention_backward(const InferContext& c) {
  const AttentionLayout layout = layout_of(c);
  const size_t n = qkv_slots(layout), extra = c.params<AttentionParams>().lse_grad ? 1 : 0;
  if (c.inputs.size() != n + 3 + extra && c.inputs.size() != n + 4 + extra)
    c.fail(str_cat("expects ", n == 3 ? "q, k, v" : "qkv", ", out, lse, dout, optionally the mask",
                   extra ? " and the cotangent of lse" : "", " (", n + 3 + extra, " or ", n + 4 + extra,
                   " inputs), got ", c.inputs.size()));
  const bool has_mask = c.inputs.size() == n + 4 + extra;
  const AttentionSizes z = check_qkv(c, layout, has_mask ? n + 3 : c.inputs.size());
  const std::vector<TensorType> fwd = attention_outputs(layout, z, c.inputs[0].dtype);
  const char* names[] = {"out", "lse", "dout", "the cotangent of lse"};
  std::vector<std::pair<size_t, Shape>> want = {{n, fwd[0].shape}, {n + 1, fwd[1].shape}, {n + 2, fwd[0].shape}};
  if (extra) want.push_back({c.inputs.size() - 1, fwd[1].shape});
  for (size_t i = 0; i < want.size(); ++i)
    if (c.inputs[want[i].first].shape != want[i].second)
      c.fail(str_cat(names[i], " has shape ", c.inputs[want[i].first].shape.to_string(), "; expected ",
                     want[i].second.to_string()));
  return std::vector<TensorType>(c.inputs.begin(), c.inputs.begin() + static_cast<std::ptrdiff_t>(n));
}

// With P = softmax(S) and cotangents dO (of out) and Glse (of lse), dS = P ⊙ (dO·vᵀ - Δ)
// where Δ = rowsum(dO ⊙ out) - Glse (∂lse/∂S = P): the backward op recomputes P from lse
// and Δ from out and dO.
std::vector<Value> attention_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  const AttentionParams& p = c.node.params<AttentionParams>();
  const size_t n = p.layout == "NL3HD" ? 1 : 3;
  const Value dout = c.grad_outputs[0], glse = c.grad_outputs[1];
  bool wanted = false;
  for (size_t i = 0; i < n; ++i) wanted |= c.needs_grad[i];
  if (!(dout.valid() || glse.valid()) || !wanted) return g;
  const Value out = c.outputs[0], lse = c.outputs[1];
  std::vector<Value> in(c.inputs.begin(), c.inputs.begin() + static_cast<std::ptrdiff_t>(n));
  in.insert(in.end(), {out, lse, dout.valid() ? dout : zeros_like(out)});
  if (c.inputs.size() > n) in.push_back(c.inputs[n]);
  Attrs attrs = c.node.attrs;
  if (glse.valid()) {
    in.push_back(glse);
    attrs.set("lse_grad", true);
  }
  std::vector<Value> d = apply_multi("scaled_dot_product_attention_backward", std::move(in), std::move(attrs));
  for (size_t i = 0; i < n; ++i)
    if (c.needs_grad[i]) g[i] = d[i];
  return g;
}

// Score pairs actually computed: causal skips those above the diagonal.
double score_pairs(const AttentionGeom& g) {
  const double l = static_cast<double>(g.l), s = static_cast<double>(g.s), batch = static_cast<double>(g.batch);
  if (!g.causal) return batch * l * s;
  const double tri = std::min(l, s);  // Σ_i min(i + 1, S)
  return batch * (tri * (tri + 1) / 2 + std::max(0.0, l - s) * s);
}

AttentionGeom geom_of(const Node& n) {
  const AttentionParams& p = n.params<AttentionParams>();
  const bool packed = p.layout == "NL3HD";
  const Shape& q = n.inputs[0].shape();
  return attention_geom(q, packed ? q : n.inputs[1].shape(), packed ? q : n.inputs[2].shape(), nullptr, p);
}

Cost io_bytes(const Node& n) {
  Cost c;
  for (const Value& in : n.inputs) c.bytes_read += bytes_of(in.type());
  for (const TensorType& t : n.outputs) c.bytes_written += bytes_of(t);
  return c;
}

// Per score: q·k (2d), exp and the online rescale (~5), p·v (2dv).
Cost attention_cost(const Node& n) {
  const AttentionGeom g = geom_of(n);
  Cost c = io_bytes(n);
  c.flops = score_pairs(g) * (2.0 * static_cast<double>(g.d) + 2.0 * static_cast<double>(g.dv) + 5);
  return c;
}

// Per score: q·k again (2d), dV (2dv), dP (2dv), dQ and dK (4d), exp and dS (~4).
Cost attention_backward_cost(const Node& n) {
  const AttentionGeom g = geom_of(n);
  Cost c = io_bytes(n);
  c.flops = score_pairs(g) * (6.0 * static_cast<double>(g.d) + 4.0 * static_cast<double>(g.dv) + 4);
  return c;
}

}  // namespace

void register_attention_ops(OpRegistry& r) {
  op::scaled_dot_product_attention =
      &r.add({.name = "scaled_dot_product_attention",
              .kind = OpKind::gemm,
              .params = params_codec<AttentionParams>(),
              .infer = infer_attention,
              .vjp = attention_vjp,
              .cost = attention_cost,
              // The mask gets no gradient: slot 3 beside q, k, v; with the packed qkv it is
              // slot 1, whose gradient the vjp leaves empty (zero).
              .nondiff_inputs = {3},
              .doc = "softmax(q k^T scale + mask) v over [N,H,L,d] (or the NLHD / packed NL3HD layouts) -> out, "
                     "row log-sum-exp; fused, no [L,S] scores in memory; optional additive mask (no gradient) and "
                     "causal"});
  // Not differentiable again: its inputs' second derivatives would need the [L,S]
  // probabilities it exists to avoid (as PyTorch's fused attention kernels).
  op::scaled_dot_product_attention_backward =
      &r.add({.name = "scaled_dot_product_attention_backward",
              .kind = OpKind::gemm,
              .params = params_codec<AttentionParams>(),
              .infer = infer_attention_backward,
              .cost = attention_backward_cost,
              .doc = "gradients of scaled_dot_product_attention (q, k, v, out, lse, dout [, mask] [, lse "
                     "cotangent]) -> dq, dk, dv (or qkv -> dqkv), recomputing the probabilities tile by tile"});
}

std::vector<Value> scaled_dot_product_attention_with_lse(Value q, Value k, Value v, Value mask, double scale,
                                                         bool causal, const std::source_location& loc) {
  std::vector<Value> in{q, k, v};
  if (mask.valid()) in.push_back(mask);
  return apply_multi("scaled_dot_product_attention", std::move(in),
                     encode_params(AttentionParams{scale, causal, "NHLD"}), loc);
}

Value scaled_dot_product_attention_nlhd(Value q, Value k, Value v, Value mask, double scale, bool causal,
                                        const std::source_location& loc) {
  std::vector<Value> in{q, k, v};
  if (mask.valid()) in.push_back(mask);
  return apply("scaled_dot_product_attention", std::move(in), encode_params(AttentionParams{scale, causal, "NLHD"}),
               loc);
}

Value scaled_dot_product_attention_packed(Value qkv, Value mask, double scale, bool causal,
                                          const std::source_location& loc) {
  std::vector<Value> in{qkv};
  if (mask.valid()) in.push_back(mask);
  return apply("scaled_dot_product_attention", std::move(in), encode_params(AttentionParams{scale, causal, "NL3HD"}),
               loc);
}

Value scaled_dot_product_attention(Value q, Value k, Value v, Value mask, double scale, bool causal,
                                   const std::source_location& loc) {
  return scaled_dot_product_attention_with_lse(q, k, v, mask, scale, causal, loc)[0];
}

std::vector<Value> scaled_dot_product_attention_backward(Value q, Value k, Value v, Value out, Value lse, Value dout,
                                                         Value mask, double scale, bool causal, Value lse_grad,
                                                         const std::source_location& loc) {
  std::vector<Value> in{q, k, v, out, lse, dout};
  if (mask.valid()) in.push_back(mask);
  if (lse_grad.valid()) in.push_back(lse_grad);
  return apply_multi("scaled_dot_product_attention_backward", std::move(in),
                     encode_params(AttentionParams{scale, causal, "NHLD", lse_grad.valid()}), loc);
}

Value scaled_dot_product_attention_composed(Value q, Value k, Value v, Value mask, double scale,
                                            const std::source_location& loc) {
  if (!q.valid() || q.shape().rank() < 2)
    throw ShapeError("[scaled_dot_product_attention_composed] q must be at least 2-D [.., L, d]");
  if (scale == 0) scale = 1.0 / std::sqrt(static_cast<double>(q.dim(-1)));
  Value scores = matmul(q, k, false, true, loc) * scale;
  if (mask.valid()) scores = add(scores, mask, loc);
  return matmul(softmax(scores, -1, loc), v, false, false, loc);
}

}  // namespace dagrad
