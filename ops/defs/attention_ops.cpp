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

// q [N,H,L,d], k [N,H,S,d], v [N,H,S,dv] in slots 0-2 and, in slot `mask_slot` when
// present, an additive mask broadcastable to [N,H,L,S]; all of one floating dtype.
void check_qkv(const InferContext& c, size_t mask_slot) {
  const TensorType &q = c.inputs[0], &k = c.inputs[1], &v = c.inputs[2];
  if (!is_floating(q.dtype))
    throw TypeError(str_cat("[", c.op.name, "] q must be float32 or float64, got ", dtype_name(q.dtype)));
  for (size_t i = 1; i < c.inputs.size(); ++i)
    if (c.inputs[i].dtype != q.dtype)
      throw TypeError(str_cat("[", c.op.name, "] input ", i, " is ", dtype_name(c.inputs[i].dtype), " but q is ",
                              dtype_name(q.dtype)));
  const char* names[] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i)
    if (c.inputs[i].shape.rank() != 4)
      c.fail(str_cat(names[i], " must be 4-D [N, heads, length, dim], got shape ", c.inputs[i].shape.to_string()));
  const std::string shapes = str_cat(" (q ", q.shape.to_string(), ", k ", k.shape.to_string(), ", v ",
                                     v.shape.to_string(), ")");
  if (k.shape[0] != q.shape[0] || v.shape[0] != q.shape[0] || k.shape[1] != q.shape[1] || v.shape[1] != q.shape[1])
    c.fail("q, k and v must have the same batch and head dims" + shapes);
  if (k.shape[3] != q.shape[3]) c.fail("q and k must have the same last dim" + shapes);
  if (v.shape[2] != k.shape[2]) c.fail("k and v must have the same number of keys (dim 2)" + shapes);
  if (k.shape[2] == 0 && q.shape[2] > 0) c.fail("there are no keys to attend to" + shapes);
  const double scale = c.params<AttentionParams>().scale;
  if (!std::isfinite(scale) || scale < 0)
    throw ValueError(str_cat("[", c.op.name, "] scale must be finite and >= 0 (0: 1/sqrt(dim)), got ", scale));
  if (mask_slot >= c.inputs.size()) return;
  const Shape& m = c.inputs[mask_slot].shape;
  const int64_t full[4] = {q.shape[0], q.shape[1], q.shape[2], k.shape[2]};
  bool ok = m.rank() <= 4;
  for (size_t i = 0; ok && i < m.rank(); ++i) {
    const int64_t want = full[4 - m.rank() + i];
    ok = m[i] == 1 || m[i] == want;
  }
  if (!ok)
    c.fail(str_cat("mask of shape ", m.to_string(), " does not broadcast to the scores [N,H,L,S] = [", full[0], ",",
                   full[1], ",", full[2], ",", full[3], "]"));
}

std::vector<TensorType> infer_attention(const InferContext& c) {
  if (c.inputs.size() != 3 && c.inputs.size() != 4)
    c.fail(str_cat("expects q, k, v and optionally an additive mask (3 or 4 inputs), got ", c.inputs.size()));
  check_qkv(c, 3);
  const Shape &q = c.inputs[0].shape, &v = c.inputs[2].shape;
  const DType dt = c.inputs[0].dtype;
  return {TensorType{Shape{q[0], q[1], q[2], v[3]}, dt}, TensorType{Shape{q[0], q[1], q[2]}, dt}};
}

// Inputs q, k, v, lse, delta, dout [, mask]; outputs dq, dk, dv.
std::vector<TensorType> infer_attention_backward(const InferContext& c) {
  if (c.inputs.size() != 6 && c.inputs.size() != 7)
    c.fail(str_cat("expects q, k, v, lse, delta, dout and optionally the mask (6 or 7 inputs), got ",
                   c.inputs.size()));
  check_qkv(c, 6);
  const Shape &q = c.inputs[0].shape, &v = c.inputs[2].shape;
  const Shape rows{q[0], q[1], q[2]}, out{q[0], q[1], q[2], v[3]};
  if (c.inputs[3].shape != rows) c.fail(str_cat("lse has shape ", c.inputs[3].shape.to_string(), "; expected ", rows.to_string()));
  if (c.inputs[4].shape != rows)
    c.fail(str_cat("delta has shape ", c.inputs[4].shape.to_string(), "; expected ", rows.to_string()));
  if (c.inputs[5].shape != out)
    c.fail(str_cat("dout has shape ", c.inputs[5].shape.to_string(), "; expected ", out.to_string()));
  return {c.inputs[0], c.inputs[1], c.inputs[2]};
}

// With P = softmax(S) and cotangents dO (of out) and Glse (of lse), dS = P ⊙ (dO·vᵀ - Δ)
// where Δ = rowsum(dO ⊙ out) - Glse (∂lse/∂S = P): the backward op recomputes P from lse
// and takes Δ ready-made (a fused multiply and a row sum).
std::vector<Value> attention_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  Value dout = c.grad_outputs[0], glse = c.grad_outputs[1];
  if (!(dout.valid() || glse.valid()) || !(c.needs_grad[0] || c.needs_grad[1] || c.needs_grad[2])) return g;
  const Value out = c.outputs[0], lse = c.outputs[1];
  Value delta;
  if (dout.valid()) delta = sum(dout * out, {-1});
  if (glse.valid()) delta = delta.valid() ? delta - glse : -glse;
  if (!dout.valid()) dout = zeros_like(out);
  const AttentionParams& p = c.node.params<AttentionParams>();
  const Value mask = c.inputs.size() > 3 ? c.inputs[3] : Value{};
  std::vector<Value> d =
      scaled_dot_product_attention_backward(c.inputs[0], c.inputs[1], c.inputs[2], lse, delta, dout, mask, p.scale,
                                            p.causal);
  for (int i = 0; i < 3; ++i)
    if (c.needs_grad[i]) g[i] = d[i];
  return g;
}

// Score pairs actually computed: causal skips those above the diagonal.
double score_pairs(const Shape& q, const Shape& k, bool causal) {
  const double l = static_cast<double>(q[2]), s = static_cast<double>(k[2]), batch = static_cast<double>(q[0] * q[1]);
  if (!causal) return batch * l * s;
  double pairs = 0;  // Σ_i min(i + 1, S)
  const double full_rows = std::max(0.0, l - s);
  const double tri = std::min(l, s);
  pairs = tri * (tri + 1) / 2 + full_rows * s;
  return batch * pairs;
}

// Per score: q·k (2d), exp and the online rescale (~5), p·v (2dv).
Cost attention_cost(const Node& n) {
  const Shape &q = n.inputs[0].shape(), &k = n.inputs[1].shape(), &v = n.inputs[2].shape();
  const double pairs = score_pairs(q, k, n.params<AttentionParams>().causal);
  double read = 0, written = 0;
  for (const Value& in : n.inputs) read += bytes_of(in.type());
  for (const TensorType& t : n.outputs) written += bytes_of(t);
  return Cost{pairs * (2.0 * static_cast<double>(q[3]) + 2.0 * static_cast<double>(v[3]) + 5), read, written};
}

// Per score: q·k again (2d), dV (2dv), dP (2dv), dQ and dK (4d), exp and dS (~4).
Cost attention_backward_cost(const Node& n) {
  const Shape &q = n.inputs[0].shape(), &k = n.inputs[1].shape(), &v = n.inputs[2].shape();
  const double pairs = score_pairs(q, k, n.params<AttentionParams>().causal);
  double read = 0, written = 0;
  for (const Value& in : n.inputs) read += bytes_of(in.type());
  for (const TensorType& t : n.outputs) written += bytes_of(t);
  return Cost{pairs * (6.0 * static_cast<double>(q[3]) + 4.0 * static_cast<double>(v[3]) + 4), read, written};
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
              .nondiff_inputs = {3},
              .doc = "softmax(q k^T scale + mask) v over [N,H,L,d] -> out, row log-sum-exp; fused, no [L,S] "
                     "scores in memory; optional additive mask and causal"});
  // Not differentiable again: its inputs' second derivatives would need the [L,S]
  // probabilities it exists to avoid (as PyTorch's fused attention kernels).
  op::scaled_dot_product_attention_backward =
      &r.add({.name = "scaled_dot_product_attention_backward",
              .kind = OpKind::gemm,
              .params = params_codec<AttentionParams>(),
              .infer = infer_attention_backward,
              .cost = attention_backward_cost,
              .doc = "gradients of scaled_dot_product_attention (q, k, v, lse, delta, dout [, mask]) -> dq, dk, "
                     "dv, recomputing the probabilities tile by tile"});
}

std::vector<Value> scaled_dot_product_attention_with_lse(Value q, Value k, Value v, Value mask, double scale,
                                                         bool causal, const std::source_location& loc) {
  std::vector<Value> in{q, k, v};
  if (mask.valid()) in.push_back(mask);
  return apply_multi("scaled_dot_product_attention", std::move(in), encode_params(AttentionParams{scale, causal}),
                     loc);
}

Value scaled_dot_product_attention(Value q, Value k, Value v, Value mask, double scale, bool causal,
                                   const std::source_location& loc) {
  return scaled_dot_product_attention_with_lse(q, k, v, mask, scale, causal, loc)[0];
}

std::vector<Value> scaled_dot_product_attention_backward(Value q, Value k, Value v, Value lse, Value delta, Value dout,
                                                         Value mask, double scale, bool causal,
                                                         const std::source_location& loc) {
  std::vector<Value> in{q, k, v, lse, delta, dout};
  if (mask.valid()) in.push_back(mask);
  return apply_multi("scaled_dot_product_attention_backward", std::move(in),
                     encode_params(AttentionParams{scale, causal}), loc);
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
