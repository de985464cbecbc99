// Attention modules with PyTorch's parameter names and initialisation, batch-first:
// MultiheadAttention and TransformerEncoderLayer. Attention runs as the fused
// scaled_dot_product_attention op (ops/ops.h): no [N, heads, L, S] tensor in memory.
#pragma once
#include <string>

#include "frontend/nn.h"
#include "frontend/nn_norm.h"

namespace dagrad::nn {

// Images [N, C, H, W] cut into non-overlapping p×p patches, each embedded linearly: the
// tokens [N, (H/p)·(W/p), dim] that Conv2d(C, dim, p, stride=p) followed by
// flatten(2).transpose(1, 2) gives, with that convolution's parameters (weight
// [dim, C, p, p], bias [dim], PyTorch's initialisation), in row-major patch order.
// Computed as one GEMM over the patches (a permute of the image, then [N·T, C·p·p] ·
// weightᵀ with the bias in its epilogue), which needs no transpose of the tokens.
class PatchEmbedding final : public Module {
 public:
  PatchEmbedding(std::string name, int64_t in_channels, int64_t dim, int64_t patch,
                 std::source_location loc = std::source_location::current());
  Value forward(Value images) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t in_, dim_, patch_;
};

// Masks of one attention call; each may be empty. Additive float masks: 0 attends, -inf
// (or a large negative number) ignores.
struct AttentionMasks {
  Value key_padding;  // [N, S]: per sample and key (padding tokens)
  Value attn;         // [L, S], or any shape that broadcasts to [N, heads, L, S]
  bool causal = false;  // query i sees keys j <= i only
};

// Multi-head attention (PyTorch's nn.MultiheadAttention with batch_first=True):
// query [N, L, E], key and value [N, S, E] -> [N, L, E]. Parameters: in_proj_weight
// [3E, E] (xavier uniform), in_proj_bias [3E] (zeros), out_proj.weight [E, E] (Linear's
// default), out_proj.bias [E] (zeros). E must divide by num_heads. `dropout` drops
// attention probabilities in training; the fused kernel has no dropout, so p > 0 runs
// the composed path (matmul, softmax, dropout, matmul; causal masks unsupported there).
class MultiheadAttention final : public Module {
 public:
  MultiheadAttention(std::string name, int64_t embed_dim, int64_t num_heads, double dropout = 0, bool bias = true,
                     std::source_location loc = std::source_location::current());
  // Self-attention of x [N, L, E] without masks.
  Value forward(Value x) override;
  Value attend(Value query, Value key, Value value, const AttentionMasks& masks = {});
  void collect(std::vector<ParamSpec>& out) const override;
  int64_t embed_dim() const { return embed_; }

 private:
  // The additive mask of `masks` for N samples and S keys (empty: none).
  Value combined_mask(const AttentionMasks& masks, int64_t n, int64_t s_len) const;
  Value attention(Value q, Value k, Value v, Value mask, bool causal) const;

  int64_t embed_, heads_;
  double dropout_;
  bool bias_;
  uint64_t seed_;
};

struct TransformerEncoderOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;            // after attention, in the feed-forward block and after it
  double attention_dropout = -1;   // on attention probabilities; < 0: the same as dropout (PyTorch)
  bool gelu = false;               // activation: GELU (exact) or ReLU
  bool norm_first = false;         // pre-norm (x + f(norm(x))) or post-norm (norm(x + f(x)))
  double layer_norm_eps = 1e-5;
};

// PyTorch's nn.TransformerEncoderLayer (batch_first=True): x [N, L, E] -> [N, L, E].
//   post-norm: x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(ff(x)))
//   pre-norm:  x = x + dropout1(self_attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))
//   ff(x) = linear2(dropout(activation(linear1(x))))
// Parameters: self_attn.*, linear1 [F, E], linear2 [E, F], norm1, norm2.
class TransformerEncoderLayer final : public Module {
 public:
  TransformerEncoderLayer(std::string name, int64_t d_model, int64_t nhead, TransformerEncoderOptions opt = {},
                          std::source_location loc = std::source_location::current());
  Value forward(Value x) override { return forward(x, AttentionMasks{}); }
  Value forward(Value x, const AttentionMasks& masks);
  void collect(std::vector<ParamSpec>& out) const override;
  void train(bool on) override;

 private:
  Value self_attention_block(Value x, const AttentionMasks& masks);
  Value feed_forward_block(Value x);

  TransformerEncoderOptions opt_;
  std::shared_ptr<MultiheadAttention> self_attn_;
  std::shared_ptr<Linear> linear1_, linear2_;
  std::shared_ptr<LayerNorm> norm1_, norm2_;
  std::shared_ptr<Dropout> dropout_, dropout1_, dropout2_;
};

}  // namespace dagrad::nn
