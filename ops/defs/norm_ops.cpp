// Layer normalisation (ONNX LayerNormalization, PyTorch's LayerNorm) as one fused op with
// its own backward op. Kernels: ops/cpu/layer_norm.cpp, ops/cuda/layer_norm.cu. The
// composed form (mean, sub, mul, sqrt, ...) is its reference in tests/ops/norm_cases.cpp.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/norm.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *layer_norm, *layer_norm_backward;
}  // namespace op

namespace {

double bytes_of(const Value& v) { return static_cast<double>(v.shape().numel() * dtype_size(v.dtype())); }

// The first normalised dim of x, or a ShapeError naming the axis.
int first_dim(const InferContext& c, const Shape& x) {
  const int64_t axis = c.params<LayerNormParams>().axis;
  const int d = layer_norm_first_dim(x, axis);
  if (d < 0)
    c.fail(str_cat("axis ", axis, " is out of range for x of shape ", x.to_string(), "; it must be in [",
                   -static_cast<int64_t>(x.rank()), ", ", x.rank(), ")"));
  return d;
}

// x's shape with the normalised dims set to 1: the shape of the saved statistics.
Shape stats_shape(const Shape& x, int first) {
  std::vector<int64_t> dims(x.begin(), x.end());
  for (size_t i = static_cast<size_t>(first); i < dims.size(); ++i) dims[i] = 1;
  return Shape(std::move(dims));
}

Shape normalized_shape(const Shape& x, int first) { return Shape(std::vector<int64_t>(x.begin() + first, x.end())); }

// An affine input (gamma or beta) must have the normalised shape and x's dtype.
void check_affine(const InferContext& c, size_t slot, const char* what, const TensorType& x, int first) {
  const TensorType& t = c.inputs[slot];
  const Shape want = normalized_shape(x.shape, first);
  if (t.shape != want)
    c.fail(str_cat(what, " has shape ", t.shape.to_string(), " but x ", x.shape.to_string(), " is normalised over ",
                   want.to_string(), " (axis ", c.params<LayerNormParams>().axis, "); they must be equal"));
  if (t.dtype != x.dtype)
    throw TypeError(str_cat("[", c.op.name, "] ", what, " is ", dtype_name(t.dtype), " but x is ", dtype_name(x.dtype)));
}

void check_x(const InferContext& c, const TensorType& x) {
  if (!is_floating(x.dtype))
    throw TypeError(str_cat("[", c.op.name, "] x must be float32 or float64, got ", dtype_name(x.dtype)));
  if (!(c.params<LayerNormParams>().epsilon >= 0))
    throw ValueError(str_cat("[", c.op.name, "] epsilon must be >= 0, got ", c.params<LayerNormParams>().epsilon));
}

// Inputs x [, gamma [, beta]]; outputs y, mean, invstd.
std::vector<TensorType> infer_layer_norm(const InferContext& c) {
  if (c.inputs.empty() || c.inputs.size() > 3)
    c.fail(str_cat("expects x and optionally gamma and beta (1 to 3 inputs), got ", c.inputs.size()));
  const TensorType& x = c.inputs[0];
  check_x(c, x);
  const int first = first_dim(c, x.shape);
  if (c.inputs.size() > 1) check_affine(c, 1, "gamma", x, first);
  if (c.inputs.size() > 2) check_affine(c, 2, "beta", x, first);
  const TensorType stats{stats_shape(x.shape, first), x.dtype};
  return {x, stats, stats};
}

// Inputs dy, x, mean, invstd [, gamma]; outputs dx [, dgamma, dbeta].
std::vector<TensorType> infer_layer_norm_backward(const InferContext& c) {
  if (c.inputs.size() != 4 && c.inputs.size() != 5)
    c.fail(str_cat("expects dy, x, mean, invstd and optionally gamma (4 or 5 inputs), got ", c.inputs.size()));
  const TensorType& x = c.inputs[1];
  check_x(c, x);
  const int first = first_dim(c, x.shape);
  if (c.inputs[0] != x) c.fail(str_cat("dy is ", c.inputs[0].to_string(), " but x is ", x.to_string(), "; they must match"));
  const TensorType stats{stats_shape(x.shape, first), x.dtype};
  for (size_t slot : {size_t{2}, size_t{3}})
    if (c.inputs[slot] != stats)
      c.fail(str_cat(slot == 2 ? "mean" : "invstd", " is ", c.inputs[slot].to_string(), "; expected ",
                     stats.to_string(), " for x ", x.shape.to_string()));
  if (c.inputs.size() == 4) return {x};
  check_affine(c, 4, "gamma", x, first);
  return {x, c.inputs[4], c.inputs[4]};
}

// ---- vjp rules ----

// The normalised axes [first, rank) and the row axes [0, first) of x.
struct NormAxes {
  std::vector<int64_t> norm, rows;
  double cols = 1;
  NormAxes(const Value& x, int64_t axis) {
    const int first = layer_norm_first_dim(x.shape(), axis);
    for (int64_t a = 0; a < static_cast<int64_t>(x.shape().rank()); ++a) {
      (a < first ? rows : norm).push_back(a);
      if (a >= first) cols *= static_cast<double>(x.dim(static_cast<int>(a)));
    }
  }
  Value row_sum(Value v) const { return sum(v, norm, true); }  // [.., cols] -> [.., 1]
  Value col_sum(Value v) const { return rows.empty() ? v : sum(v, rows, false); }  // -> normalised shape
};

// dy goes through layer_norm_backward. The saved statistics are outputs too; with M values
// per row and d = x - mean their cotangents Gm, Gi add
//   dx += Gm/M - Gi·invstd³·d/M   (d invstd/dx = -invstd³·d/M; Σd = 0 removes the mean term).
std::vector<Value> layer_norm_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  const Value &dy = c.grad_outputs[0], &g_mean = c.grad_outputs[1], &g_invstd = c.grad_outputs[2];
  const Value x = c.inputs[0], mean = c.outputs[1], invstd = c.outputs[2];
  const LayerNormParams& p = c.node.params<LayerNormParams>();
  const bool affine = c.inputs.size() > 1;
  if (dy.valid()) {
    std::vector<Value> d = layer_norm_backward(dy, x, mean, invstd, affine ? c.inputs[1] : Value{}, p.axis);
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (c.needs_grad[i]) g[i] = d[i];
  }
  if (c.needs_grad[0] && (g_mean.valid() || g_invstd.valid())) {
    const double m = NormAxes(x, p.axis).cols;
    if (g_mean.valid()) {
      Value t = g_mean / m;
      g[0] = g[0].valid() ? g[0] + t : broadcast_to(t, x.shape());
    }
    if (g_invstd.valid()) {
      Value t = (g_invstd * invstd * invstd * invstd / -m) * (x - mean);
      g[0] = g[0].valid() ? g[0] + t : t;
    }
  }
  return g;
}

// Double backward, treating mean and invstd as inputs. Per row of M values, with
// d = x - mean, g' = dy·gamma, S1 = Σg', S2 = Σg'·d, the op computes
//   dx = invstd·g' - invstd·S1/M - invstd³·d·S2/M,  dgamma = Σ_rows dy·d·invstd,  dbeta = Σ_rows dy.
// With cotangents A (of dx), B (dgamma), C (dbeta), SA = ΣA, SAd = ΣA·d and
// P = invstd·A - invstd·SA/M - invstd³·SAd·d/M (the cotangent of g'):
//   ∂dy = P·gamma + B·d·invstd + C      ∂gamma = Σ_rows P·dy
//   ∂x = -invstd³/M·(SAd·g' + S2·A) + B·dy·invstd = ∂d,   ∂mean = -Σ ∂d
//   ∂invstd = ΣA·g' - SA·S1/M - 3·invstd²/M·S2·SAd + ΣB·dy·d
std::vector<Value> layer_norm_backward_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  const bool affine = c.inputs.size() == 5;
  bool any = false;
  for (const Value& v : c.grad_outputs) any |= v.valid();
  if (!any) return g;
  const Value dy = c.inputs[0], x = c.inputs[1], mean = c.inputs[2], invstd = c.inputs[3];
  const NormAxes ax(x, c.node.params<LayerNormParams>().axis);
  const double m = ax.cols;
  const Value A = c.grad_outputs[0].valid() ? c.grad_outputs[0] : zeros_like(x);
  const Value B = affine ? c.grad_outputs[1] : Value{};
  const Value C = affine ? c.grad_outputs[2] : Value{};
  const Value gamma = affine ? c.inputs[4] : Value{};
  const Value d = x - mean;
  const Value gp = affine ? dy * gamma : dy;
  const Value i3m = invstd * invstd * invstd / m;  // invstd³/M
  const Value s1 = ax.row_sum(gp), s2 = ax.row_sum(gp * d);
  const Value sa = ax.row_sum(A), sad = ax.row_sum(A * d);
  const Value p = invstd * A - invstd * sa / m - i3m * sad * d;
  if (c.needs_grad[0]) {
    Value t = affine ? p * gamma : p;
    if (B.valid()) t = t + B * d * invstd;
    if (C.valid()) t = t + C;
    g[0] = t;
  }
  const bool need_d = c.needs_grad[1] || c.needs_grad[2];
  if (need_d) {
    Value dd = -(i3m * (sad * gp + s2 * A));
    if (B.valid()) dd = dd + B * dy * invstd;
    if (c.needs_grad[1]) g[1] = dd;
    if (c.needs_grad[2]) g[2] = -ax.row_sum(dd);
  }
  if (c.needs_grad[3]) {
    Value t = ax.row_sum(A * gp) - sa * s1 / m - (3.0 / m) * invstd * invstd * s2 * sad;
    if (B.valid()) t = t + ax.row_sum(B * dy * d);
    g[3] = t;
  }
  if (affine && c.needs_grad[4]) g[4] = ax.col_sum(p * dy);
  return g;
}

// ---- costs ----

// Mean, squared deviations, normalise and affine: ~8 flops per element, x read twice.
Cost layer_norm_cost(const Node& n) {
  const Value& x = n.inputs[0];
  double read = 2 * bytes_of(x);
  for (size_t i = 1; i < n.inputs.size(); ++i) read += bytes_of(n.inputs[i]);
  double written = 0;
  for (const TensorType& t : n.outputs) written += static_cast<double>(t.shape.numel() * dtype_size(t.dtype));
  return Cost{8 * static_cast<double>(x.shape().numel()), read, written};
}

// Two row sums and dx (~10 flops per element), the column sums for dgamma and dbeta.
Cost layer_norm_backward_cost(const Node& n) {
  const Value& x = n.inputs[1];
  double read = 2 * (bytes_of(n.inputs[0]) + bytes_of(x));
  for (size_t i = 2; i < n.inputs.size(); ++i) read += bytes_of(n.inputs[i]);
  double written = 0;
  for (const TensorType& t : n.outputs) written += static_cast<double>(t.shape.numel() * dtype_size(t.dtype));
  return Cost{(n.outputs.size() > 1 ? 14 : 10) * static_cast<double>(x.shape().numel()), read, written};
}

}  // namespace

void register_norm_ops(OpRegistry& r) {
  op::layer_norm = &r.add({.name = "layer_norm",
                           .kind = OpKind::normalization,
                           .params = params_codec<LayerNormParams>(),
                           .infer = infer_layer_norm,
                           .vjp = layer_norm_vjp,
                           .cost = layer_norm_cost,
                           .doc = "x [, gamma [, beta]] normalised over dims [axis, rank) -> y, mean, invstd "
                                  "(ONNX LayerNormalization)"});
  op::layer_norm_backward =
      &r.add({.name = "layer_norm_backward",
              .kind = OpKind::normalization,
              .params = params_codec<LayerNormParams>(),
              .infer = infer_layer_norm_backward,
              .vjp = layer_norm_backward_vjp,
              .cost = layer_norm_backward_cost,
              .doc = "gradients of layer_norm (dy, x, mean, invstd [, gamma]) -> dx [, dgamma, dbeta]"});
}

// ---- builders ----

std::vector<Value> layer_norm_with_stats(Value x, Value gamma, Value beta, int64_t axis, double epsilon,
                                         const std::source_location& loc) {
  if (beta.valid() && !gamma.valid())
    throw ValueError("[layer_norm] beta needs gamma: pass ones as gamma for a shift alone");
  std::vector<Value> in{x};
  if (gamma.valid()) in.push_back(gamma);
  if (beta.valid()) in.push_back(beta);
  return apply_multi("layer_norm", std::move(in), encode_params(LayerNormParams{axis, epsilon}), loc);
}

Value layer_norm(Value x, Value gamma, Value beta, int64_t axis, double epsilon, const std::source_location& loc) {
  return layer_norm_with_stats(x, gamma, beta, axis, epsilon, loc)[0];
}

std::vector<Value> layer_norm_backward(Value dy, Value x, Value mean, Value invstd, Value gamma, int64_t axis,
                                       const std::source_location& loc) {
  std::vector<Value> in{dy, x, mean, invstd};
  if (gamma.valid()) in.push_back(gamma);
  return apply_multi("layer_norm_backward", std::move(in), encode_params(LayerNormParams{axis, 1e-5}), loc);
}

}  // namespace dagrad
