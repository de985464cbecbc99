// Linear algebra: matmul (batched, with transposes read in place) and the linear builder.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/linalg.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *matmul;
}  // namespace op

namespace {

struct MatmulDims {
  int64_t batch = 1, m = 0, n = 0, k = 0;
};

MatmulDims matmul_dims(const Shape& c, const Shape& a, bool trans_a) {
  MatmulDims d;
  d.m = c.dim(-2);
  d.n = c.dim(-1);
  d.k = trans_a ? a.dim(-2) : a.dim(-1);
  for (size_t i = 0; i + 2 < c.rank(); ++i) d.batch *= c[i];
  return d;
}

std::string operand(const char* name, const Shape& s, bool trans, int64_t k) {
  return str_cat(name, " is ", s.to_string(),
                 trans ? str_cat(" (trans_", name, ", K=", k, ")") : str_cat(" (K=", k, ")"));
}

std::vector<TensorType> infer_matmul(const InferContext& c) {
  c.expect_inputs(2);
  const DType out = c.product_dtype();
  const Shape& a = c.inputs[0].shape;
  const Shape& b = c.inputs[1].shape;
  if (a.rank() < 2 || b.rank() < 2)
    c.fail(str_cat("needs matrices of at least 2 dimensions: a is ", a.to_string(), ", b is ", b.to_string(),
                   "; reshape a vector to [1,K] or [K,1]"));
  const bool ta = c.params<MatmulParams>().trans_a, tb = c.params<MatmulParams>().trans_b;
  int64_t m = ta ? a.dim(-1) : a.dim(-2), ka = ta ? a.dim(-2) : a.dim(-1);
  int64_t kb = tb ? b.dim(-1) : b.dim(-2), n = tb ? b.dim(-2) : b.dim(-1);
  if (ka != kb) c.fail(str_cat("inner dimensions differ: ", operand("a", a, ta, ka), ", ", operand("b", b, tb, kb)));
  std::vector<int64_t> batch(a.begin(), a.end() - 2);
  if (b.rank() > 2 && std::vector<int64_t>(b.begin(), b.end() - 2) != batch)
    c.fail(str_cat("batch dimensions differ: a is ", a.to_string(), ", b is ", b.to_string(),
                   "; they must be equal, or b must be 2-D (shared across the batch)"));
  batch.push_back(m);
  batch.push_back(n);
  return {TensorType{Shape(std::move(batch)), out}};
}

Cost matmul_cost(const Node& n) {
  MatmulDims d = matmul_dims(n.outputs[0].shape, n.inputs[0].shape(), n.params<MatmulParams>().trans_a);
  const double in_size = static_cast<double>(dtype_size(n.inputs[0].dtype()));
  return Cost{2.0 * d.batch * d.m * d.n * d.k,
              in_size * static_cast<double>(n.inputs[0].shape().numel() + n.inputs[1].shape().numel()),
              static_cast<double>(dtype_size(n.outputs[0].dtype) * n.outputs[0].shape.numel())};
}

// C = op(A)·op(B): d op(A) = G·op(B)ᵀ and d op(B) = op(A)ᵀ·G; transposing back where an
// operand was read transposed gives the four cases below, all without explicit copies.
// 16-bit operands multiply G in their dtype, and their float32 gradients are cast back.
std::vector<Value> matmul_vjp(const VjpContext& c) {
  Value a = c.inputs[0], b = c.inputs[1], g = cast(c.grad_outputs[0], a.dtype());
  const bool ta = c.node.params<MatmulParams>().trans_a, tb = c.node.params<MatmulParams>().trans_b;
  bool shared_b = b.shape().rank() == 2 && a.shape().rank() > 2;
  Value da, db;
  if (c.needs_grad[0]) {
    if (!ta)
      da = matmul(g, b, false, !tb);  // G[.., M,N] · op(B)ᵀ
    else if (!shared_b)
      da = matmul(b, g, tb, true);  // op(B)[.., K,N] · Gᵀ = (G·op(B)ᵀ)ᵀ
    else
      da = transpose(matmul(g, b, false, !tb));  // matmul has no batched right operand with a 2-D left one
  }
  if (c.needs_grad[1]) {
    if (!shared_b) {
      db = tb ? matmul(g, a, true, ta)     // Gᵀ · op(A)   [.., N,K]
              : matmul(a, g, !ta, false);  // op(A)ᵀ · G   [.., K,N]
    } else if (!ta) {
      // b is shared by the batch: fold the batch into rows, [B*M,K]ᵀ · [B*M,N].
      int64_t k = a.dim(-1), n = g.dim(-1);
      Value a2 = reshape(a, {-1, k}), g2 = reshape(g, {-1, n});
      db = tb ? matmul(g2, a2, true, false) : matmul(a2, g2, true, false);
    } else {
      std::vector<int64_t> batch_axes;
      for (int64_t i = 0; i + 2 < static_cast<int64_t>(a.shape().rank()); ++i) batch_axes.push_back(i);
      Value per_batch = tb ? matmul(g, a, true, true) : matmul(a, g, false, false);
      db = sum(per_batch, batch_axes);
    }
  }
  if (da.valid()) da = cast(da, a.dtype());
  if (db.valid()) db = cast(db, b.dtype());
  return {da, db};
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
  op::matmul = &r.add({.name = "matmul",
                       .kind = OpKind::gemm,
                       .flags = {.accepts_epilogue = true},
                       .params = params_codec<MatmulParams>(),
                       .infer = infer_matmul,
                       .vjp = matmul_vjp,
                       .cost = matmul_cost,
                       .low_precision_inputs = {0, 1},
                       .doc = "[..., M, K] x [..., K, N] -> [..., M, N] (b may be 2-D, shared by the batch); "
                              "trans_a/trans_b transpose the last two dims; bfloat16/float16 operands give float32"});
}

Value matmul(Value a, Value b, bool trans_a, bool trans_b, const std::source_location& loc) {
  return apply("matmul", {a, b}, encode_params(MatmulParams{trans_a, trans_b}), loc);
}

Value linear(Value x, Value weight, Value bias, const std::source_location& loc) {
  Value y = matmul(x, weight, false, true, loc);
  return bias.valid() ? add(y, bias, loc) : y;
}

}  // namespace dagrad
