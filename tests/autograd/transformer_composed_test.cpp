// The fused transformer ops against their composed references, forward and backward, in
// float64: scaled_dot_product_attention against matmul + softmax + matmul (the [L,S]
// scores materialised), layer_norm against mean / sub / mul / sqrt. The gradients of both
// come from autograd, so this checks the fused backward ops against the vjps of the
// ops they replace.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/grad.h"
#include "finite_diff.h"
#include "ops/ops.h"
#include "tests/ops/op_cases.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

void expect_all_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double worst = 0;
  int64_t at_i = -1;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double err = std::abs(at(got, i) - at(want, i)) / (1 + std::abs(at(want, i)));
    if (!(err <= worst)) worst = err, at_i = i;
  }
  EXPECT_LE(worst, tol) << what << ": worst element " << at_i << " got " << at(got, at_i) << " want "
                        << at(want, at_i);
}

// Runs loss = Σ out·w and its gradients wrt `wrt` for the graph's output `out`.
std::vector<Tensor> value_and_grads(Graph& g, Value out, const std::vector<Value>& wrt, TensorMap bind) {
  bind["w"] = random_tensor(out.shape(), DType::f64, 4242);
  Value loss = sum(out * g.input("w", out.shape(), DType::f64));
  std::vector<Value> outs{out};
  for (const Value& gr : autograd::grad(g, loss, wrt)) outs.push_back(gr);
  return run(g, outs, bind);
}

struct AttentionSetup {
  int64_t n, h, l, s, d;
  bool causal;
  int mask;  // 0 none, 1 additive [L,S], 2 key padding [N,1,1,S]
};

// The causal mask as the composed form takes it: 0 where j <= i, -inf elsewhere.
Tensor causal_mask(int64_t l, int64_t s) {
  return make_f64(Shape{l, s}, [&](int64_t f) {
    return f % s <= f / s ? 0.0 : -std::numeric_limits<double>::infinity();
  });
}

class AttentionComposed : public ::testing::TestWithParam<AttentionSetup> {};

TEST_P(AttentionComposed, ForwardAndGradientsMatch) {
  const AttentionSetup c = GetParam();
  TensorMap bind{{"q", random_tensor(Shape{c.n, c.h, c.l, c.d}, DType::f64, 1)},
                 {"k", random_tensor(Shape{c.n, c.h, c.s, c.d}, DType::f64, 2)},
                 {"v", random_tensor(Shape{c.n, c.h, c.s, c.d}, DType::f64, 3)}};
  Shape mask_shape;
  if (c.mask == 1) {
    mask_shape = Shape{c.l, c.s};
    bind["mask"] = random_tensor(mask_shape, DType::f64, 4, -2, 2);
  } else if (c.mask == 2) {
    mask_shape = Shape{c.n, 1, 1, c.s};
    bind["mask"] = make_f64(mask_shape, [&](int64_t f) {
      return f % c.s >= c.s - 1 - f / c.s ? -std::numeric_limits<double>::infinity() : 0.0;
    });
  }
  auto build = [&](Graph& g, bool fused) {
    Value q = g.input("q", bind.at("q").shape(), DType::f64), k = g.input("k", bind.at("k").shape(), DType::f64),
          v = g.input("v", bind.at("v").shape(), DType::f64);
    Value mask = c.mask ? g.input("mask", mask_shape, DType::f64) : Value{};
    Value out;
    if (fused) {
      out = scaled_dot_product_attention(q, k, v, mask, 0, c.causal);
    } else {
      if (c.causal) mask = mask.valid() ? mask + g.input("causal", Shape{c.l, c.s}, DType::f64)
                                        : g.input("causal", Shape{c.l, c.s}, DType::f64);
      out = scaled_dot_product_attention_composed(q, k, v, mask);
    }
    return std::make_pair(out, std::vector<Value>{q, k, v});
  };
  Graph gf, gc;
  auto [out_f, in_f] = build(gf, true);
  auto [out_c, in_c] = build(gc, false);
  TensorMap bind_c = bind;
  if (c.causal) bind_c["causal"] = causal_mask(c.l, c.s);
  std::vector<Tensor> fused = value_and_grads(gf, out_f, in_f, bind);
  std::vector<Tensor> composed = value_and_grads(gc, out_c, in_c, bind_c);
  const char* names[] = {"out", "dq", "dk", "dv"};
  for (size_t i = 0; i < fused.size(); ++i) expect_all_close(fused[i], composed[i], 1e-12, names[i]);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionComposed,
                         ::testing::Values(AttentionSetup{2, 2, 5, 7, 4, false, 0}, AttentionSetup{1, 3, 9, 9, 8, true, 0},
                                           AttentionSetup{2, 1, 6, 4, 3, false, 1},
                                           AttentionSetup{2, 2, 5, 6, 4, false, 2},
                                           AttentionSetup{1, 2, 40, 70, 8, true, 1},
                                           AttentionSetup{2, 2, 33, 65, 16, false, 2}));

struct NormSetup {
  Shape x;
  int64_t axis;
  bool affine;
};

class LayerNormComposed : public ::testing::TestWithParam<NormSetup> {};

// y = (x - mean)/sqrt(var + eps)·gamma + beta over the dims [axis, rank).
TEST_P(LayerNormComposed, ForwardAndGradientsMatch) {
  const NormSetup c = GetParam();
  const int64_t rank = static_cast<int64_t>(c.x.rank()), first = c.axis < 0 ? c.axis + rank : c.axis;
  const Shape w(std::vector<int64_t>(c.x.begin() + first, c.x.end()));
  std::vector<int64_t> axes;
  for (int64_t a = first; a < rank; ++a) axes.push_back(a);
  TensorMap bind{{"x", random_tensor(c.x, DType::f64, 5, -1, 3)}, {"gamma", random_tensor(w, DType::f64, 6, 0.5, 1.5)},
                 {"beta", random_tensor(w, DType::f64, 7)}};
  auto build = [&](Graph& g, bool fused) {
    Value x = g.input("x", c.x, DType::f64);
    Value gamma = c.affine ? g.input("gamma", w, DType::f64) : Value{};
    Value beta = c.affine ? g.input("beta", w, DType::f64) : Value{};
    Value y;
    if (fused) {
      y = layer_norm(x, gamma, beta, c.axis, 1e-5);
    } else {
      Value centred = x - mean(x, axes, true);
      y = centred / sqrt(mean(centred * centred, axes, true) + 1e-5);
      if (c.affine) y = y * gamma + beta;
    }
    std::vector<Value> wrt{x};
    if (c.affine) wrt.insert(wrt.end(), {gamma, beta});
    return std::make_pair(y, wrt);
  };
  Graph gf, gc;
  auto [yf, wf] = build(gf, true);
  auto [yc, wc] = build(gc, false);
  std::vector<Tensor> fused = value_and_grads(gf, yf, wf, bind);
  std::vector<Tensor> composed = value_and_grads(gc, yc, wc, bind);
  const char* names[] = {"y", "dx", "dgamma", "dbeta"};
  for (size_t i = 0; i < fused.size(); ++i) expect_all_close(fused[i], composed[i], 1e-11, names[i]);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormComposed,
                         ::testing::Values(NormSetup{{8, 16}, -1, true}, NormSetup{{2, 3, 5}, 1, true},
                                           NormSetup{{4, 7}, -1, false}, NormSetup{{3, 2, 4}, 0, true},
                                           NormSetup{{300, 64}, -1, true}));

}  // namespace
