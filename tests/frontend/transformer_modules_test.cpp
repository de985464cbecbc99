// The transformer-era nn modules (frontend/nn.h, nn_norm.h, nn_transformer.h) and the
// mnist-vit model: PyTorch's parameter names, shapes and initialisation, results against
// plain loops, the paths of multi-head attention against each other, masks, and a few
// training steps of the vision transformer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/grad.h"
#include "frontend/data/mnist.h"
#include "frontend/nn_norm.h"
#include "frontend/nn_transformer.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/interpreter.h"

using namespace dagrad;

namespace {

Tensor random(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = Tensor::empty(s);
  Generator gen(seed);
  fill_uniform(t, gen, lo, hi);
  return t;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(double(x[i]) - double(y[i])));
  return m;
}

// Runs `out` of graph g on the module's initialised parameters and extra bindings.
Tensor run(Graph& g, Value out, const nn::Module& m, TensorMap extra, uint64_t seed = 1) {
  TensorMap bind = nn::init_parameters(m, seed);
  for (auto& [k, v] : extra) bind[k] = v;
  return interpret(g, std::vector<Value>{out}, bind)[0];
}

TEST(TransformerModules, MnistVitHasPyTorchNamesAndShapes) {
  auto model = models::mnist_vit();
  std::vector<nn::ParamSpec> specs = nn::parameter_specs(*model);
  std::vector<std::pair<std::string, Shape>> want = {
      {"patch_embed.weight", Shape{64, 1, 7, 7}},
      {"patch_embed.bias", Shape{64}},
      {"pos_embedding", Shape{1, 16, 64}},
      {"encoder.layers.0.self_attn.in_proj_weight", Shape{192, 64}},
      {"encoder.layers.0.self_attn.in_proj_bias", Shape{192}},
      {"encoder.layers.0.self_attn.out_proj.weight", Shape{64, 64}},
      {"encoder.layers.0.self_attn.out_proj.bias", Shape{64}},
      {"encoder.layers.0.linear1.weight", Shape{128, 64}},
      {"encoder.layers.0.linear1.bias", Shape{128}},
      {"encoder.layers.0.linear2.weight", Shape{64, 128}},
      {"encoder.layers.0.linear2.bias", Shape{64}},
      {"encoder.layers.0.norm1.weight", Shape{64}},
      {"encoder.layers.0.norm1.bias", Shape{64}},
      {"encoder.layers.0.norm2.weight", Shape{64}},
      {"encoder.layers.0.norm2.bias", Shape{64}}};
  ASSERT_GE(specs.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(specs[i].name, want[i].first);
    EXPECT_EQ(specs[i].shape, want[i].second) << want[i].first;
  }
  EXPECT_EQ(specs.back().name, "head.bias");
  // As PyTorch counts the same model (bench/pytorch_compare.py --model mnist-vit).
  EXPECT_EQ(nn::count_parameters(*model), 71946);
}

TEST(TransformerModules, InitialisationFollowsPyTorch) {
  nn::MultiheadAttention mha("attn", 64, 4);
  nn::LayerNorm ln("ln", {64});
  nn::Embedding emb("emb", 100, 32);
  TensorMap p = nn::init_parameters(mha, 3);
  for (const auto& [k, v] : nn::init_parameters(ln, 3)) p[k] = v;
  for (const auto& [k, v] : nn::init_parameters(emb, 3)) p[k] = v;
  auto max_abs = [&](const char* name) {
    double m = 0;
    for (float v : p.at(name).to_vector<float>()) m = std::max(m, std::abs(double(v)));
    return m;
  };
  const double xavier = std::sqrt(6.0 / (64 + 192));  // xavier_uniform_ of in_proj_weight [192, 64]
  EXPECT_LE(max_abs("attn.in_proj_weight"), xavier);
  EXPECT_GT(max_abs("attn.in_proj_weight"), 0.9 * xavier);
  EXPECT_EQ(max_abs("attn.in_proj_bias"), 0.0);
  EXPECT_EQ(max_abs("attn.out_proj.bias"), 0.0);
  EXPECT_LE(max_abs("attn.out_proj.weight"), 1 / std::sqrt(64.0));
  for (float v : p.at("ln.weight").to_vector<float>()) EXPECT_EQ(v, 1.0f);
  // N(0, 1): the sample's spread over 3,200 values.
  double sq = 0;
  for (float v : p.at("emb.weight").to_vector<float>()) sq += double(v) * v;
  EXPECT_NEAR(std::sqrt(sq / 3200), 1.0, 0.05);
}

TEST(TransformerModules, LayerNormNormalisesTrailingDims) {
  nn::LayerNorm ln("ln", {3, 4});
  Graph g;
  Value x = g.input("x", Shape{2, 3, 4});
  Tensor xv = random(Shape{2, 3, 4}, 5, -2, 3);
  TensorMap params = nn::init_parameters(ln, 1);
  params["ln.weight"] = random(Shape{3, 4}, 6);
  params["ln.bias"] = random(Shape{3, 4}, 7);
  params["x"] = xv;
  Tensor y = interpret(g, std::vector<Value>{ln(x)}, params)[0];
  std::vector<float> xs = xv.to_vector<float>(), ys = y.to_vector<float>(), w = params["ln.weight"].to_vector<float>(),
                     b = params["ln.bias"].to_vector<float>();
  for (int n = 0; n < 2; ++n) {
    double mean = 0, var = 0;
    for (int i = 0; i < 12; ++i) mean += xs[n * 12 + i] / 12.0;
    for (int i = 0; i < 12; ++i) var += std::pow(xs[n * 12 + i] - mean, 2) / 12.0;
    for (int i = 0; i < 12; ++i)
      EXPECT_NEAR(ys[n * 12 + i], (xs[n * 12 + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i], 1e-5);
  }
  Graph bad;
  Value z = bad.input("z", Shape{2, 4, 3});
  EXPECT_THROW(ln(z), ShapeError);
}

TEST(TransformerModules, GroupNormMatchesPlainLoops) {
  nn::GroupNorm gn("gn", 2, 4);
  Graph g;
  Value x = g.input("x", Shape{3, 4, 5});
  Tensor xv = random(Shape{3, 4, 5}, 9, -1, 4);
  TensorMap extra{{"x", xv}, {"gn.weight", random(Shape{4}, 10)}, {"gn.bias", random(Shape{4}, 11)}};
  Tensor y = run(g, gn(x), gn, extra);
  std::vector<float> xs = xv.to_vector<float>(), ys = y.to_vector<float>(), w = extra["gn.weight"].to_vector<float>(),
                     b = extra["gn.bias"].to_vector<float>();
  for (int n = 0; n < 3; ++n)
    for (int grp = 0; grp < 2; ++grp) {
      const int first = n * 20 + grp * 10;  // channels 2·grp, 2·grp + 1, 5 positions each
      double mean = 0, var = 0;
      for (int i = 0; i < 10; ++i) mean += xs[first + i] / 10.0;
      for (int i = 0; i < 10; ++i) var += std::pow(xs[first + i] - mean, 2) / 10.0;
      for (int i = 0; i < 10; ++i) {
        const int c = grp * 2 + i / 5;
        EXPECT_NEAR(ys[first + i], (xs[first + i] - mean) / std::sqrt(var + 1e-5) * w[c] + b[c], 1e-5);
      }
    }
}

TEST(TransformerModules, Conv1dMatchesPlainLoops) {
  nn::Conv1d conv("conv", 3, 2, 3, {.stride = 2, .padding = 1});
  Graph g;
  Value x = g.input("x", Shape{2, 3, 9});
  Tensor xv = random(Shape{2, 3, 9}, 12);
  Value y = conv(x);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 5}));
  TensorMap params = nn::init_parameters(conv, 2);
  std::vector<float> w = params.at("conv.weight").to_vector<float>(), b = params.at("conv.bias").to_vector<float>(),
                     xs = xv.to_vector<float>();
  Tensor got = run(g, y, conv, {{"x", xv}}, 2);
  std::vector<float> ys = got.to_vector<float>();
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 2; ++o)
      for (int t = 0; t < 5; ++t) {
        double acc = b[o];
        for (int c = 0; c < 3; ++c)
          for (int k = 0; k < 3; ++k) {
            const int pos = t * 2 - 1 + k;
            if (pos >= 0 && pos < 9) acc += double(w[(o * 3 + c) * 3 + k]) * xs[(n * 3 + c) * 9 + pos];
          }
        EXPECT_NEAR(ys[(n * 2 + o) * 5 + t], acc, 1e-5);
      }
}

// The GEMM form equals the strided convolution it stands for, forward and in the
// gradients of its parameters.
TEST(TransformerModules, PatchEmbeddingEqualsAStridedConvolution) {
  nn::PatchEmbedding patches("patch_embed", 2, 8, 3);
  nn::Conv2d conv("patch_embed", 2, 8, 3, {.stride = 3});
  Graph g;
  Value x = g.input("x", Shape{3, 2, 6, 9});
  Value a = patches(x);
  Value b = transpose(flatten(conv(x), 2), 1, 2);
  ASSERT_EQ(a.shape(), (Shape{3, 6, 8}));
  ASSERT_EQ(b.shape(), a.shape());
  Value w = g.input("w", a.shape());
  Value loss_a = sum(a * w), loss_b = sum(b * w);
  std::vector<Value> params = g.parameters();
  std::vector<Value> ga = autograd::grad(g, loss_a, params), gb = autograd::grad(g, loss_b, params);
  TensorMap bind = nn::init_parameters(patches, 11);
  bind["x"] = random(Shape{3, 2, 6, 9}, 20);
  bind["w"] = random(a.shape(), 21);
  std::vector<Value> outs{a, b};
  outs.insert(outs.end(), ga.begin(), ga.end());
  outs.insert(outs.end(), gb.begin(), gb.end());
  std::vector<Tensor> got = interpret(g, outs, bind);
  EXPECT_LT(max_abs_diff(got[0], got[1]), 1e-5);
  for (size_t i = 0; i < params.size(); ++i) EXPECT_LT(max_abs_diff(got[2 + i], got[2 + params.size() + i]), 1e-4);
  Graph bad;
  EXPECT_THROW(patches(bad.input("x", Shape{1, 2, 7, 9})), ShapeError);
}

TEST(TransformerModules, EmbeddingAndPositionEmbedding) {
  nn::Embedding emb("emb", 10, 4);
  Graph g;
  Value ids = g.input("ids", Shape{2, 3}, DType::i64);
  Value e = emb(ids);
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  Tensor idv = Tensor::from_vector(Shape{2, 3}, std::vector<int64_t>{0, 9, 3, 3, -1, 5});
  TensorMap params = nn::init_parameters(emb, 4);
  std::vector<float> table = params.at("emb.weight").to_vector<float>();
  std::vector<float> got = run(g, e, emb, {{"ids", idv}}, 4).to_vector<float>();
  const int rows[] = {0, 9, 3, 3, 9, 5};  // -1 is the last row, as in ONNX Gather
  for (int i = 0; i < 6; ++i)
    for (int d = 0; d < 4; ++d) EXPECT_EQ(got[i * 4 + d], table[rows[i] * 4 + d]);

  nn::PositionEmbedding pos("pos_embedding", 3, 4);
  Graph g2;
  Value x = g2.input("x", Shape{2, 3, 4});
  Tensor xv = random(Shape{2, 3, 4}, 13);
  TensorMap p2 = nn::init_parameters(pos, 5);
  std::vector<float> pv = p2.at("pos_embedding").to_vector<float>(), xs = xv.to_vector<float>();
  std::vector<float> y = run(g2, pos(x), pos, {{"x", xv}}, 5).to_vector<float>();
  for (int i = 0; i < 24; ++i) EXPECT_FLOAT_EQ(y[i], xs[i] + pv[i % 12]);
  Graph g3;
  EXPECT_THROW(pos(g3.input("x", Shape{2, 4, 4})), ShapeError);
}

// softmax(q·kᵀ/sqrt(hd) + mask)·v per head, in double, from the projections of x.
std::vector<double> mha_reference(const std::vector<float>& x, const TensorMap& p, int64_t n, int64_t l, int64_t e,
                                  int64_t heads, const std::vector<double>& key_mask) {
  const std::vector<float> w = p.at("attn.in_proj_weight").to_vector<float>(),
                           bi = p.at("attn.in_proj_bias").to_vector<float>(),
                           wo = p.at("attn.out_proj.weight").to_vector<float>(),
                           bo = p.at("attn.out_proj.bias").to_vector<float>();
  const int64_t hd = e / heads;
  std::vector<double> qkv(static_cast<size_t>(n * l * 3 * e)), o(static_cast<size_t>(n * l * e)),
      out(static_cast<size_t>(n * l * e));
  for (int64_t t = 0; t < n * l; ++t)
    for (int64_t r = 0; r < 3 * e; ++r) {
      double acc = bi[r];
      for (int64_t c = 0; c < e; ++c) acc += double(w[r * e + c]) * x[t * e + c];
      qkv[t * 3 * e + r] = acc;
    }
  for (int64_t b = 0; b < n; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < l; ++i) {
        std::vector<double> s(static_cast<size_t>(l));
        double m = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t j = 0; j < l; ++j) {
          double acc = 0;
          for (int64_t c = 0; c < hd; ++c)
            acc += qkv[(b * l + i) * 3 * e + h * hd + c] * qkv[(b * l + j) * 3 * e + e + h * hd + c];
          s[j] = acc / std::sqrt(double(hd)) + key_mask[b * l + j];
          m = std::max(m, s[j]);
        }
        for (int64_t j = 0; j < l; ++j) sum += s[j] = std::exp(s[j] - m);
        for (int64_t c = 0; c < hd; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < l; ++j) acc += s[j] * qkv[(b * l + j) * 3 * e + 2 * e + h * hd + c];
          o[(b * l + i) * e + h * hd + c] = acc / sum;
        }
      }
  for (int64_t t = 0; t < n * l; ++t)
    for (int64_t r = 0; r < e; ++r) {
      double acc = bo[r];
      for (int64_t c = 0; c < e; ++c) acc += double(wo[r * e + c]) * o[t * e + c];
      out[t * e + r] = acc;
    }
  return out;
}

TEST(TransformerModules, MultiheadAttentionMatchesPlainLoopsWithAndWithoutPadding) {
  const int64_t n = 2, l = 5, e = 8, heads = 2;
  nn::MultiheadAttention attn("attn", e, heads);
  TensorMap p = nn::init_parameters(attn, 6);
  p["attn.in_proj_bias"] = random(Shape{3 * e}, 14);  // zeros by default: make them count
  p["attn.out_proj.bias"] = random(Shape{e}, 15);
  Tensor xv = random(Shape{n, l, e}, 16);
  std::vector<double> pad(static_cast<size_t>(n * l), 0.0);
  pad[l - 1] = pad[2 * l - 1] = pad[2 * l - 2] = -std::numeric_limits<double>::infinity();
  for (bool padded : {false, true}) {
    Graph g;
    Value x = g.input("x", Shape{n, l, e});
    nn::AttentionMasks masks;
    TensorMap bind = p;
    bind["x"] = xv;
    if (padded) {
      masks.key_padding = g.input("pad", Shape{n, l});
      std::vector<float> pf(pad.begin(), pad.end());
      bind["pad"] = Tensor::from_vector(Shape{n, l}, pf);
    }
    std::vector<float> got = interpret(g, std::vector<Value>{attn.attend(x, x, x, masks)}, bind)[0].to_vector<float>();
    std::vector<double> want =
        mha_reference(xv.to_vector<float>(), p, n, l, e, heads, padded ? pad : std::vector<double>(pad.size(), 0.0));
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-5) << (padded ? "padded " : "") << i;
  }
}

TEST(TransformerModules, SelfAndCrossAttentionPathsAgree) {
  nn::MultiheadAttention attn("attn", 16, 4);
  Graph g;
  Value x = g.input("x", Shape{3, 7, 16});
  Value self = attn.attend(x, x, x);               // packed qkv
  Value cross = attn.attend(x, x * 1.0, x * 1.0);  // separate projections, NLHD
  TensorMap bind = nn::init_parameters(attn, 8);
  bind["x"] = random(Shape{3, 7, 16}, 17);
  std::vector<Tensor> out = interpret(g, std::vector<Value>{self, cross}, bind);
  EXPECT_LT(max_abs_diff(out[0], out[1]), 1e-5);
}

TEST(TransformerModules, CausalAttentionIgnoresLaterPositions) {
  nn::MultiheadAttention attn("attn", 8, 2);
  Graph g;
  Value x = g.input("x", Shape{1, 6, 8});
  nn::AttentionMasks causal;
  causal.causal = true;
  Value y = attn.attend(x, x, x, causal);
  TensorMap bind = nn::init_parameters(attn, 9);
  Tensor a = random(Shape{1, 6, 8}, 18), b = a.clone();
  for (int64_t i = 4 * 8; i < 6 * 8; ++i) b.data<float>()[i] += 1.0f;  // change positions 4 and 5
  bind["x"] = a;
  std::vector<float> ya = interpret(g, std::vector<Value>{y}, bind)[0].to_vector<float>();
  bind["x"] = b;
  std::vector<float> yb = interpret(g, std::vector<Value>{y}, bind)[0].to_vector<float>();
  for (int i = 0; i < 4 * 8; ++i) EXPECT_FLOAT_EQ(ya[i], yb[i]) << i;
  double changed = 0;
  for (int i = 4 * 8; i < 6 * 8; ++i) changed += std::abs(ya[i] - yb[i]);
  EXPECT_GT(changed, 1e-3);
}

TEST(TransformerModules, EncoderLayerNormPlacementAndDropout) {
  auto layer = [](bool norm_first, double dropout) {
    return std::make_shared<nn::TransformerEncoderLayer>(
        "layer", 16, 4, nn::TransformerEncoderOptions{.dim_feedforward = 32, .dropout = dropout, .gelu = true,
                                                      .norm_first = norm_first});
  };
  Tensor xv = random(Shape{2, 5, 16}, 19);
  auto output = [&](nn::TransformerEncoderLayer& m, bool training) {
    m.train(training);
    Graph g;
    Value x = g.input("x", Shape{2, 5, 16});
    return run(g, m(x), m, {{"x", xv}}, 10);
  };
  auto post = layer(false, 0.1), pre = layer(true, 0.1);
  Tensor post_eval = output(*post, false), pre_eval = output(*pre, false);
  EXPECT_GT(max_abs_diff(post_eval, pre_eval), 1e-3);
  // Post-norm ends with norm2: every token has mean 0 (the initial affine is the identity).
  std::vector<float> y = post_eval.to_vector<float>();
  for (int t = 0; t < 10; ++t) {
    double mean = 0;
    for (int c = 0; c < 16; ++c) mean += y[t * 16 + c] / 16.0;
    EXPECT_NEAR(mean, 0.0, 1e-5);
  }
  // Dropout acts in training only; with p = 0 training and evaluation agree.
  EXPECT_GT(max_abs_diff(output(*post, true), post_eval), 1e-3);
  auto plain = layer(false, 0.0);
  EXPECT_LT(max_abs_diff(output(*plain, true), output(*plain, false)), 1e-6);
}

// Two classes a transformer can tell apart by where the bright pixels are: the top
// half or the bottom half.
class HalvesDataset final : public Dataset {
 public:
  int64_t size() const override { return 128; }
  Batch gather(std::span<const int64_t> indices) const override {
    const int64_t b = static_cast<int64_t>(indices.size());
    Batch out{Tensor::zeros(Shape{b, 1, 28, 28}), Tensor::empty(Shape{b}, DType::i64)};
    for (int64_t i = 0; i < b; ++i) {
      const int64_t label = indices[i] % 2;
      out.target.data<int64_t>()[i] = label;
      for (int64_t y = 0; y < 14; ++y)
        for (int64_t x = 0; x < 28; ++x)
          out.input.data<float>()[i * 784 + (label * 14 + y) * 28 + x] = ((x + y + indices[i]) % 3) ? 1.0f : 0.5f;
    }
    return out;
  }
  SampleNames names() const override { return MnistDataset::sample_names(); }
};

TEST(TransformerModules, VitTrainsWithAdamWAndOneCycle) {
  TrainConfig cfg;
  cfg.model_name = "mnist-vit";
  cfg.epochs = 3;
  cfg.batch_size = 16;
  cfg.optimizer = "adamw";
  cfg.weight_decay = 0.01;
  cfg.schedule.kind = optim::LrSchedule::Kind::onecycle;
  cfg.schedule.base_lr = 3e-3;
  cfg.schedule.total_steps = 24;
  cfg.progress = false;
  cfg.objective = classification(ClassScores::log_probabilities);  // mnist-vit ends in log_softmax
  std::ostringstream log;
  Trainer trainer(models::mnist_vit(), cfg, log);
  HalvesDataset data;
  std::vector<EpochMetrics> m = trainer.fit(data, data);
  ASSERT_EQ(m.size(), 3u);
  const std::vector<float>& losses = trainer.step_losses();
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  EXPECT_GT(m.back().test_score("accuracy"), 0.9);
}

}  // namespace
