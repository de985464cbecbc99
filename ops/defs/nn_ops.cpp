// The nn family: classification losses (nll_loss, softmax_cross_entropy and their
// backward ops), dropout, batch_norm (+ backward) and the classification metrics
// (accuracy, confusion_matrix). Kernels: ops/cpu/nn_*.cpp.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/nn.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *nll_loss, *nll_loss_backward, *softmax_cross_entropy, *softmax_cross_entropy_backward, *accuracy,
    *confusion_matrix, *one_hot, *dropout, *batch_norm, *batch_norm_backward;
}  // namespace op

namespace {

double bytes_of(const Value& v) { return static_cast<double>(v.shape().numel() * dtype_size(v.dtype())); }
double bytes_of(const TensorType& t) { return static_cast<double>(t.shape.numel() * dtype_size(t.dtype)); }

// ---- shape inference ----

// Scores [N,C] (floating) in slot `x` named `what`, int64 class ids [N] in slot `t`.
void check_class_inputs(const InferContext& c, size_t x, const char* what, size_t t) {
  const TensorType& s = c.inputs[x];
  const TensorType& target = c.inputs[t];
  if (!is_floating(s.dtype))
    throw TypeError(str_cat("[", c.op.name, "] ", what, " must be float32 or float64, got ", dtype_name(s.dtype)));
  if (s.shape.rank() != 2) c.fail(str_cat(what, " must be 2-D [N,C], got shape ", s.shape.to_string()));
  if (s.shape[0] == 0 || s.shape[1] == 0)
    c.fail(str_cat(what, " has shape ", s.shape.to_string(), "; it needs at least one row and one class"));
  if (target.dtype != DType::i64)
    throw TypeError(str_cat("[", c.op.name, "] target must be int64 class ids, got ", dtype_name(target.dtype)));
  if (target.shape.rank() != 1) c.fail(str_cat("target must be 1-D [N], got shape ", target.shape.to_string()));
  if (target.shape[0] != s.shape[0])
    c.fail(str_cat("target has ", target.shape[0], " entries but ", what, " has ", s.shape[0], " rows (", what,
                   " shape ", s.shape.to_string(), ")"));
}

// The incoming gradient of a mean loss: a scalar of the scores' dtype.
void check_scalar_grad(const InferContext& c, size_t g, size_t x) {
  const TensorType& grad = c.inputs[g];
  if (grad.shape.rank() != 0) c.fail(str_cat("grad must be a scalar (shape []), got ", grad.shape.to_string()));
  if (grad.dtype != c.inputs[x].dtype)
    throw TypeError(str_cat("[", c.op.name, "] grad is ", dtype_name(grad.dtype), " but the scores are ",
                            dtype_name(c.inputs[x].dtype)));
}

std::vector<TensorType> infer_loss(const InferContext& c) {
  c.expect_inputs(2);
  check_class_inputs(c, 0, c.op.name == "nll_loss" ? "log_probs" : "logits", 1);
  return {TensorType{Shape{}, c.inputs[0].dtype}};
}

std::vector<TensorType> infer_loss_backward(const InferContext& c) {
  c.expect_inputs(3);
  check_class_inputs(c, 1, c.op.name == "nll_loss_backward" ? "log_probs" : "logits", 2);
  check_scalar_grad(c, 0, 1);
  return {c.inputs[1]};
}

std::vector<TensorType> infer_accuracy(const InferContext& c) {
  c.expect_inputs(2);
  check_class_inputs(c, 0, "logits", 1);
  return {TensorType{Shape{}, DType::f32}};
}

// predicted and target: int64 class ids [N] -> int64 counts [C,C].
std::vector<TensorType> infer_one_hot(const InferContext& c) {
  c.expect_inputs(1);
  const OneHotParams& p = c.params<OneHotParams>();
  const TensorType& in = c.inputs[0];
  if (!is_integral(in.dtype) || in.dtype == DType::boolean)
    throw TypeError(str_cat("[one_hot] indices must be integers, got ", dtype_name(in.dtype)));
  if (p.depth < 1) c.fail(str_cat("depth must be >= 1, got ", p.depth));
  const int64_t rank = static_cast<int64_t>(in.shape.rank()) + 1;
  if (p.axis < -rank || p.axis >= rank) c.fail(str_cat("axis ", p.axis, " is out of range for an output of rank ", rank));
  std::vector<int64_t> dims(in.shape.begin(), in.shape.end());
  dims.insert(dims.begin() + (p.axis < 0 ? p.axis + rank : p.axis), p.depth);
  return {TensorType{Shape(std::move(dims)), p.dtype}};
}

std::vector<TensorType> infer_confusion_matrix(const InferContext& c) {
  c.expect_inputs(2);
  const int64_t classes = c.params<ConfusionParams>().num_classes;
  if (classes < 1) throw ValueError(str_cat("[confusion_matrix] num_classes must be >= 1, got ", classes));
  const char* names[2] = {"predicted", "target"};
  for (size_t i = 0; i < 2; ++i) {
    if (c.inputs[i].dtype != DType::i64)
      throw TypeError(str_cat("[confusion_matrix] ", names[i], " must be int64 class ids, got ",
                              dtype_name(c.inputs[i].dtype)));
    if (c.inputs[i].shape.rank() != 1)
      c.fail(str_cat(names[i], " must be 1-D [N], got shape ", c.inputs[i].shape.to_string()));
  }
  if (c.inputs[0].shape != c.inputs[1].shape)
    c.fail(str_cat("predicted has ", c.inputs[0].shape[0], " entries but target has ", c.inputs[1].shape[0]));
  return {TensorType{Shape{classes, classes}, DType::i64}};
}

std::vector<TensorType> infer_dropout(const InferContext& c) {
  c.expect_inputs(1);
  c.expect_floating(0);
  const DropoutParams& p = c.params<DropoutParams>();
  if (!(p.p >= 0.0 && p.p < 1.0)) throw ValueError(str_cat("[dropout] p must be in [0, 1), got ", p.p));
  if (p.offset < 0) throw ValueError(str_cat("[dropout] offset must be >= 0, got ", p.offset));
  return {c.inputs[0]};
}

// x [N,C,...] floating; the per-channel inputs in `slots` (named by `names`) must be [C]
// of x's dtype.
void check_channel_inputs(const InferContext& c, size_t x_slot, std::initializer_list<size_t> slots,
                          std::initializer_list<const char*> names) {
  const TensorType& x = c.inputs[x_slot];
  if (!is_floating(x.dtype))
    throw TypeError(str_cat("[", c.op.name, "] x must be float32 or float64, got ", dtype_name(x.dtype)));
  if (x.shape.rank() < 2) c.fail(str_cat("x must be [N,C] or [N,C,H,W], got shape ", x.shape.to_string()));
  if (x.shape.numel() == 0) c.fail(str_cat("x has shape ", x.shape.to_string(), "; it must not be empty"));
  const int64_t channels = x.shape[1];
  auto name = names.begin();
  for (size_t slot : slots) {
    const TensorType& t = c.inputs[slot];
    if (t.shape != Shape{channels})
      c.fail(str_cat(*name, " has shape ", t.shape.to_string(), " but x has ", channels, " channels (x shape ",
                     x.shape.to_string(), "); expected [", channels, "]"));
    if (t.dtype != x.dtype)
      throw TypeError(
          str_cat("[", c.op.name, "] ", *name, " is ", dtype_name(t.dtype), " but x is ", dtype_name(x.dtype)));
    ++name;
  }
}

std::vector<TensorType> infer_batch_norm(const InferContext& c) {
  c.expect_inputs(5);
  check_channel_inputs(c, 0, {1, 2, 3, 4}, {"gamma", "beta", "running_mean", "running_var"});
  const Shape& x = c.inputs[0].shape;
  const BatchNormParams& p = c.params<BatchNormParams>();
  const double momentum = p.momentum, eps = p.eps;
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw ValueError(str_cat("[batch_norm] momentum must be in [0, 1], got ", momentum));
  if (!(eps >= 0.0)) throw ValueError(str_cat("[batch_norm] eps must be >= 0, got ", eps));
  // The unbiased running variance divides by (values per channel - 1).
  if (p.training && x.numel() / x[1] < 2)
    throw ValueError(
        str_cat("[batch_norm] training needs more than one value per channel, got x shape ", x.to_string()));
  const TensorType per_channel{Shape{x[1]}, c.inputs[0].dtype};
  return {c.inputs[0], per_channel, per_channel};
}

std::vector<TensorType> infer_batch_norm_backward(const InferContext& c) {
  c.expect_inputs(5);
  check_channel_inputs(c, 1, {2, 3, 4}, {"gamma", "save_mean", "save_invstd"});
  const TensorType& x = c.inputs[1];
  if (c.inputs[0] != x)
    c.fail(str_cat("grad_y is ", c.inputs[0].to_string(), " but x is ", x.to_string(), "; they must match"));
  const TensorType per_channel{Shape{x.shape[1]}, x.dtype};
  return {x, per_channel, per_channel};
}

// ---- builders of the backward ops (used by the vjp rules only) ----

Value nll_loss_backward(Value grad, Value log_probs, Value target,
                        const std::source_location& loc = std::source_location::current()) {
  return apply("nll_loss_backward", {grad, log_probs, target}, {}, loc);
}

std::vector<Value> batch_norm_backward(Value grad_y, Value x, Value gamma, Value save_mean, Value save_invstd,
                                       const std::source_location& loc = std::source_location::current()) {
  return apply_multi("batch_norm_backward", {grad_y, x, gamma, save_mean, save_invstd}, {}, loc);
}

// ---- vjp rules ----

std::vector<Value> nll_loss_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  if (c.needs_grad[0] && c.grad_outputs[0].valid())
    g[0] = nll_loss_backward(c.grad_outputs[0], c.inputs[0], c.inputs[1]);
  return g;
}

// nll_loss_backward is linear in grad: ⟨G, ∂out/∂grad⟩ = -Σ_i G[i,t_i] / N = nll_loss(G, t).
std::vector<Value> nll_loss_backward_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  if (c.needs_grad[0] && c.grad_outputs[0].valid()) g[0] = nll_loss(c.grad_outputs[0], c.inputs[2]);
  return g;
}

std::vector<Value> softmax_cross_entropy_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  if (c.needs_grad[0] && c.grad_outputs[0].valid())
    g[0] = softmax_cross_entropy_backward(c.grad_outputs[0], c.inputs[0], c.inputs[1]);
  return g;
}

// out = g/N·(s - onehot) with s = softmax(logits) [N,C], g scalar, upstream G [N,C]:
//   dg = Σ G⊙s / N + nll_loss(G, t);  dlogits = g/N · s⊙(G - Σ_j G⊙s) (softmax's Jacobianᵀ, per row).
std::vector<Value> softmax_cross_entropy_backward_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  const Value& up = c.grad_outputs[0];
  if (!up.valid() || !(c.needs_grad[0] || c.needs_grad[1])) return g;
  const Value grad = c.inputs[0], logits = c.inputs[1], target = c.inputs[2];
  const double n = static_cast<double>(logits.dim(0));
  Value s = softmax(logits, -1);
  Value up_s = up * s;
  if (c.needs_grad[0]) g[0] = sum(up_s) / n + nll_loss(up, target);
  if (c.needs_grad[1]) g[1] = (grad / n) * (s * (up - sum(up_s, {-1}, true)));
  return g;
}

// The same attributes in the same run step regenerate the same mask.
std::vector<Value> dropout_vjp(const VjpContext& c) {
  std::vector<Value> g(1);
  if (c.needs_grad[0] && c.grad_outputs[0].valid()) g[0] = apply("dropout", {c.grad_outputs[0]}, c.node.attrs);
  return g;
}

// Per-channel helpers for the batch_norm rules: x is [N,C,...]; per-channel values
// broadcast as [1,C,1,...] and sums run over every axis but 1.
struct ChannelView {
  std::vector<int64_t> per_channel, axes;
  explicit ChannelView(const Value& x) : per_channel(x.shape().rank(), 1) {
    per_channel[1] = x.dim(1);
    for (int64_t a = 0; a < static_cast<int64_t>(x.shape().rank()); ++a)
      if (a != 1) axes.push_back(a);
  }
  Value spread(Value v) const { return reshape(v, per_channel); }     // [C] -> [1,C,1,1]
  Value sum_keep(Value v) const { return sum(v, axes, true); }        // [N,C,H,W] -> [1,C,1,1]
  Value sum_flat(Value v) const { return sum(v, axes, false); }       // [N,C,H,W] -> [C]
  Value flat(Value v) const { return reshape(v, {per_channel[1]}); }  // [1,C,1,1] -> [C]
};

// Training: dy goes through batch_norm_backward. The saved statistics are outputs too;
// with M values per channel and d = x - mean their cotangents Gm, Gi add
//   dx += Gm/M - Gi·invstd³·d/M   (d invstd/dx = -invstd³·d/M; Σd = 0 removes the mean term).
// Eval: y = (x - running_mean)·invstd·gamma + beta is affine in x, and the saved
// statistics depend only on the running stats, which get no gradient.
std::vector<Value> batch_norm_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  const Value &dy = c.grad_outputs[0], &g_mean = c.grad_outputs[1], &g_invstd = c.grad_outputs[2];
  const Value x = c.inputs[0], gamma = c.inputs[1], mean = c.outputs[1], invstd = c.outputs[2];
  const ChannelView cv(x);
  if (c.node.params<BatchNormParams>().training) {
    if (dy.valid()) {
      std::vector<Value> d = batch_norm_backward(dy, x, gamma, mean, invstd);
      for (int i = 0; i < 3; ++i)
        if (c.needs_grad[i]) g[i] = d[i];
    }
    if (c.needs_grad[0] && (g_mean.valid() || g_invstd.valid())) {
      const double m = static_cast<double>(x.shape().numel() / x.dim(1));
      if (g_mean.valid()) {
        Value t = cv.spread(g_mean / m);
        g[0] = g[0].valid() ? g[0] + t : broadcast_to(t, x.shape());
      }
      if (g_invstd.valid()) {
        Value t = cv.spread(g_invstd * invstd * invstd * invstd / -m) * (x - cv.spread(mean));
        g[0] = g[0].valid() ? g[0] + t : t;
      }
    }
    return g;
  }
  if (!dy.valid()) return g;
  if (c.needs_grad[0]) g[0] = dy * cv.spread(gamma * invstd);
  if (c.needs_grad[1]) g[1] = cv.sum_flat(dy * ((x - cv.spread(mean)) * cv.spread(invstd)));
  if (c.needs_grad[2]) g[2] = cv.sum_flat(dy);
  return g;
}

// Double backward, treating mean and invstd as inputs. Per channel, with M values,
// d = x - mean, S1 = Σdy, S2 = Σdy·d, a = gamma·invstd, b = gamma·invstd³/M:
//   dx = a·dy - a·S1/M - b·S2·d,  dgamma = invstd·S2,  dbeta = S1.
// With cotangents A (of dx), B (dgamma), Cb (dbeta) and SA = ΣA, SAd = ΣA·d, SAdy = ΣA·dy,
// P = B·invstd - b·SAd, Q = SAdy - S1·SA/M:
//   ∂dy = a·A + Cb - a·SA/M + P·d      ∂x = P·dy - b·S2·A      ∂mean = b·S2·SA - P·S1
//   ∂gamma = invstd·Q - invstd³·S2·SAd/M      ∂invstd = gamma·Q - 3·gamma·invstd²·S2·SAd/M + B·S2
std::vector<Value> batch_norm_backward_vjp(const VjpContext& c) {
  std::vector<Value> g(c.inputs.size());
  const Value dy = c.inputs[0], x = c.inputs[1];
  if (!(c.grad_outputs[0].valid() || c.grad_outputs[1].valid() || c.grad_outputs[2].valid())) return g;
  const ChannelView cv(x);
  const double m = static_cast<double>(x.shape().numel() / x.dim(1));
  // Absent cotangents are zeros (rare: this is a second derivative).
  const Value A = c.grad_outputs[0].valid() ? c.grad_outputs[0] : zeros_like(x);
  const Value B = cv.spread(c.grad_outputs[1].valid() ? c.grad_outputs[1] : zeros_like(c.inputs[2]));
  const Value Cb = cv.spread(c.grad_outputs[2].valid() ? c.grad_outputs[2] : zeros_like(c.inputs[2]));
  const Value gamma = cv.spread(c.inputs[2]), mean = cv.spread(c.inputs[3]), invstd = cv.spread(c.inputs[4]);
  const Value d = x - mean;
  const Value invstd3_m = invstd * invstd * invstd / m;  // invstd³/M
  const Value a = gamma * invstd, b = gamma * invstd3_m;
  const Value s1 = cv.sum_keep(dy), s2 = cv.sum_keep(dy * d);
  const Value sa = cv.sum_keep(A), sad = cv.sum_keep(A * d), sady = cv.sum_keep(A * dy);
  const Value p = B * invstd - b * sad, q = sady - s1 * sa / m;
  if (c.needs_grad[0]) g[0] = a * A + (Cb - a * sa / m) + p * d;
  if (c.needs_grad[1]) g[1] = p * dy - (b * s2) * A;
  if (c.needs_grad[2]) g[2] = cv.flat(invstd * q - invstd3_m * s2 * sad);
  if (c.needs_grad[3]) g[3] = cv.flat(b * s2 * sa - p * s1);
  if (c.needs_grad[4]) g[4] = cv.flat(gamma * q - (3.0 / m) * a * invstd * s2 * sad + B * s2);
  return g;
}

// ---- costs ----

Cost nll_loss_cost(const Node& n) {  // gathers one value per row
  const Value& lp = n.inputs[0];
  const double rows = static_cast<double>(lp.dim(0));
  return Cost{rows, rows * dtype_size(lp.dtype()) + bytes_of(n.inputs[1]), bytes_of(n.outputs[0])};
}

Cost nll_loss_backward_cost(const Node& n) {  // a zero fill and one store per row
  return Cost{0, bytes_of(n.inputs[0]) + bytes_of(n.inputs[2]), bytes_of(n.outputs[0])};
}

Cost softmax_cross_entropy_cost(const Node& n) {  // max, subtract, exp, add per element
  const Value& x = n.inputs[0];
  return Cost{4 * static_cast<double>(x.shape().numel()), bytes_of(x) + bytes_of(n.inputs[1]), bytes_of(n.outputs[0])};
}

Cost softmax_cross_entropy_backward_cost(const Node& n) {  // + divide and scale
  const Value& x = n.inputs[1];
  return Cost{5 * static_cast<double>(x.shape().numel()), bytes_of(n.inputs[0]) + bytes_of(x) + bytes_of(n.inputs[2]),
              bytes_of(n.outputs[0])};
}

Cost accuracy_cost(const Node& n) {
  return Cost{static_cast<double>(n.inputs[0].shape().numel()), bytes_of(n.inputs[0]) + bytes_of(n.inputs[1]),
              bytes_of(n.outputs[0])};
}

Cost confusion_matrix_cost(const Node& n) {  // a zero fill and one increment per sample
  return Cost{static_cast<double>(n.inputs[0].shape().numel()), bytes_of(n.inputs[0]) + bytes_of(n.inputs[1]),
              bytes_of(n.outputs[0])};
}

Cost dropout_cost(const Node& n) {
  const DropoutParams& p = n.params<DropoutParams>();
  const bool active = p.training && p.p > 0;
  return Cost{active ? static_cast<double>(n.outputs[0].shape.numel()) : 0, bytes_of(n.inputs[0]),
              bytes_of(n.outputs[0])};
}

// Training: sum, squared deviations, normalise+affine (~7 flops/element), reading x three
// times and writing the two running stats; eval: one multiply-add pass.
Cost batch_norm_cost(const Node& n) {
  const bool training = n.params<BatchNormParams>().training;
  const Value& x = n.inputs[0];
  const double per_channel = bytes_of(n.inputs[1]);
  return Cost{(training ? 7 : 3) * static_cast<double>(x.shape().numel()),
              (training ? 3 : 1) * bytes_of(x) + 4 * per_channel,
              bytes_of(n.outputs[0]) + (training ? 4 : 2) * per_channel};
}

Cost batch_norm_backward_cost(const Node& n) {
  const double elems = static_cast<double>(n.inputs[1].shape().numel());
  double read = 2 * (bytes_of(n.inputs[0]) + bytes_of(n.inputs[1]));
  for (int i = 2; i < 5; ++i) read += bytes_of(n.inputs[i]);
  return Cost{9 * elems, read, bytes_of(n.outputs[0]) + bytes_of(n.outputs[1]) + bytes_of(n.outputs[2])};
}

}  // namespace

void register_nn_ops(OpRegistry& r) {
  op::nll_loss = &r.add({.name = "nll_loss",
                         .kind = OpKind::loss,
                         .infer = infer_loss,
                         .vjp = nll_loss_vjp,
                         .cost = nll_loss_cost,
                         .nondiff_inputs = {1},
                         .doc = "mean negative log-likelihood of int64 targets under log_probs [N,C]"});
  op::nll_loss_backward = &r.add({.name = "nll_loss_backward",
                                  .kind = OpKind::loss,
                                  .infer = infer_loss_backward,
                                  .vjp = nll_loss_backward_vjp,
                                  .cost = nll_loss_backward_cost,
                                  .nondiff_inputs = {1, 2},
                                  .doc = "gradient of nll_loss: -grad/N at each row's target, 0 elsewhere"});
  op::softmax_cross_entropy =
      &r.add({.name = "softmax_cross_entropy",
              .kind = OpKind::loss,
              .infer = infer_loss,
              .vjp = softmax_cross_entropy_vjp,
              .cost = softmax_cross_entropy_cost,
              .nondiff_inputs = {1},
              .doc = "mean cross-entropy of int64 targets under softmax(logits [N,C]), fused and stable"});
  op::softmax_cross_entropy_backward =
      &r.add({.name = "softmax_cross_entropy_backward",
              .kind = OpKind::loss,
              .infer = infer_loss_backward,
              .vjp = softmax_cross_entropy_backward_vjp,
              .cost = softmax_cross_entropy_backward_cost,
              .nondiff_inputs = {2},
              .doc = "gradient of softmax_cross_entropy: grad/N * (softmax(logits) - onehot(target))"});
  op::accuracy = &r.add({.name = "accuracy",
                         .kind = OpKind::loss,
                         .infer = infer_accuracy,
                         .cost = accuracy_cost,
                         .nondiff_inputs = {0, 1},
                         .doc = "fraction of rows of logits [N,C] whose argmax equals target (float32 scalar)"});
  op::one_hot = &r.add({.name = "one_hot",
                        .kind = OpKind::shape,
                        .params = params_codec<OneHotParams>(),
                        .infer = infer_one_hot,
                        .nondiff_inputs = {0},
                        .doc = "integer indices -> 1 at the index along a new axis of `depth`, 0 elsewhere"});
  op::confusion_matrix = &r.add({.name = "confusion_matrix",
                                 .kind = OpKind::loss,
                                 .params = params_codec<ConfusionParams>(),
                                 .infer = infer_confusion_matrix,
                                 .cost = confusion_matrix_cost,
                                 .nondiff_inputs = {0, 1},
                                 .doc = "(predicted, target) int64 class ids [N] -> int64 counts [C,C] of each "
                                        "(target, predicted) pair"});
  op::dropout = &r.add({.name = "dropout",
                        .kind = OpKind::elementwise,
                        .flags = {.inplace_ok = true, .accepts_epilogue = true, .random = true},
                        .params = params_codec<DropoutParams>(),
                        .infer = infer_dropout,
                        .vjp = dropout_vjp,
                        .cost = dropout_cost,
                        .doc = "inverted dropout with a Philox mask from (seed, run step, index); identity in eval"});
  op::batch_norm = &r.add(
      {.name = "batch_norm",
       .kind = OpKind::normalization,
       .params = params_codec<BatchNormParams>(),
       .infer = infer_batch_norm,
       .vjp = batch_norm_vjp,
       .cost = batch_norm_cost,
       .writes_inputs = {3, 4},
       .nondiff_inputs = {3, 4},
       .doc = "per-channel batch norm of x [N,C,...] -> y, save_mean, save_invstd; training updates running stats"});
  op::batch_norm_backward = &r.add(
      {.name = "batch_norm_backward",
       .kind = OpKind::normalization,
       .infer = infer_batch_norm_backward,
       .vjp = batch_norm_backward_vjp,
       .cost = batch_norm_backward_cost,
       .doc = "gradients of training-mode batch_norm (grad_y, x, gamma, save_mean, save_invstd) -> dx, dgamma, dbeta"});
}

// ---- builders ----

Value nll_loss(Value log_probs, Value target, const std::source_location& loc) {
  return apply("nll_loss", {log_probs, target}, {}, loc);
}

Value softmax_cross_entropy(Value logits, Value target, const std::source_location& loc) {
  return apply("softmax_cross_entropy", {logits, target}, {}, loc);
}

Value softmax_cross_entropy_backward(Value grad, Value logits, Value target, const std::source_location& loc) {
  return apply("softmax_cross_entropy_backward", {grad, logits, target}, {}, loc);
}

Value dropout(Value x, double p, uint64_t seed, bool training, const std::source_location& loc) {
  return apply("dropout", {x}, encode_params(DropoutParams{p, static_cast<int64_t>(seed), training, 0}), loc);
}

Value one_hot(Value indices, int64_t depth, int64_t axis, DType dtype, bool negative_wraps,
              const std::source_location& loc) {
  return apply("one_hot", {indices}, encode_params(OneHotParams{depth, axis, negative_wraps, dtype}), loc);
}

Value accuracy(Value logits, Value target, const std::source_location& loc) {
  return apply("accuracy", {logits, target}, {}, loc);
}

Value confusion_matrix(Value predicted, Value target, int64_t num_classes, const std::source_location& loc) {
  return apply("confusion_matrix", {predicted, target}, encode_params(ConfusionParams{num_classes}), loc);
}

Value batch_norm(Value x, Value gamma, Value beta, Value running_mean, Value running_var, bool training,
                 double momentum, double eps, const std::source_location& loc) {
  return apply("batch_norm", {x, gamma, beta, running_mean, running_var},
               encode_params(BatchNormParams{training, momentum, eps}), loc);
}

}  // namespace dagrad
