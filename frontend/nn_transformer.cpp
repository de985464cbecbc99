#include "frontend/nn_transformer.h"

#include <cmath>

#include "frontend/nn_init.h"
#include "runtime/error.h"

namespace dagrad::nn {

using namespace detail;

namespace {

std::string line_of(const std::source_location& loc) { return SourceLoc::from(loc).to_string(); }

}  // namespace

// ---- PatchEmbedding ----

PatchEmbedding::PatchEmbedding(std::string name, int64_t in_channels, int64_t dim, int64_t patch,
                               std::source_location loc)
    : Module(std::move(name), loc), in_(in_channels), dim_(dim), patch_(patch) {
  if (in_ <= 0 || dim_ <= 0 || patch_ <= 0)
    throw ValueError(str_cat("[PatchEmbedding ", name_, "] channels, dim and patch size must be positive"));
}

void PatchEmbedding::collect(std::vector<ParamSpec>& out) const {
  const int64_t fan_in = in_ * patch_ * patch_;
  out.push_back({join(name_, "weight"), Shape{dim_, in_, patch_, patch_}, true, uniform_fan_in(fan_in)});
  out.push_back({join(name_, "bias"), Shape{dim_}, true, uniform_fan_in(fan_in)});
}

Value PatchEmbedding::forward(Value x) {
  const Shape& s = x.shape();
  if (s.rank() != 4 || s[1] != in_ || s[2] % patch_ || s[3] % patch_)
    throw ShapeError(str_cat("[PatchEmbedding ", name_, "] images must be [N, ", in_, ", H, W] with H and W multiples of ",
                             patch_, ", got shape ", s.to_string(), " (", line_of(where_), ")"));
  std::vector<ParamSpec> specs;
  collect(specs);
  Graph& g = *x.graph;
  const int64_t n = s[0], gh = s[2] / patch_, gw = s[3] / patch_, p = patch_;
  // [N,C,gh,p,gw,p] -> [N,gh,gw,C,p,p]: each token's patch contiguous, in the weight's (c, i, j) order.
  Value patches = permute(reshape(x, {n, in_, gh, p, gw, p}, where_), {0, 2, 4, 1, 3, 5}, where_);
  Value w = reshape(param(g, specs[0]), {dim_, in_ * p * p}, where_);
  // [N, T, C·p·p] · wᵀ: the tokens come out as [N, T, dim], so what follows (a position
  // embedding) can join the bias in the GEMM's epilogue.
  return linear(reshape(patches, {n, gh * gw, in_ * p * p}, where_), w, param(g, specs[1]), where_);
}

// ---- MultiheadAttention ----

MultiheadAttention::MultiheadAttention(std::string name, int64_t embed_dim, int64_t num_heads, double dropout, bool bias,
                                       std::source_location loc)
    : Module(std::move(name), loc), embed_(embed_dim), heads_(num_heads), dropout_(dropout), bias_(bias),
      seed_(name_hash(name_ + ".attn_dropout")) {
  if (embed_ <= 0 || heads_ <= 0 || embed_ % heads_)
    throw ValueError(str_cat("[MultiheadAttention ", name_, "] embed_dim (", embed_, ") must be positive and divide by ",
                             "num_heads (", heads_, ")"));
  if (!(dropout_ >= 0 && dropout_ < 1))
    throw ValueError(str_cat("[MultiheadAttention ", name_, "] dropout must be in [0, 1), got ", dropout_));
}

void MultiheadAttention::collect(std::vector<ParamSpec>& out) const {
  out.push_back({join(name_, "in_proj_weight"), Shape{3 * embed_, embed_}, true, xavier_uniform(embed_, 3 * embed_)});
  if (bias_) out.push_back({join(name_, "in_proj_bias"), Shape{3 * embed_}, true, constant(0.0)});
  out.push_back({join(name_, "out_proj.weight"), Shape{embed_, embed_}, true, uniform_fan_in(embed_)});
  if (bias_) out.push_back({join(name_, "out_proj.bias"), Shape{embed_}, true, constant(0.0)});
}

Value MultiheadAttention::forward(Value x) { return attend(x, x, x); }

Value MultiheadAttention::attend(Value query, Value key, Value value, const AttentionMasks& masks) {
  for (const Value* v : {&query, &key, &value})
    if (!v->valid() || v->shape().rank() != 3 || v->dim(2) != embed_)
      throw ShapeError(str_cat("[MultiheadAttention ", name_, "] query, key and value must be [N, length, ", embed_,
                               "], got ", v->valid() ? v->shape().to_string() : "an empty value", " (",
                               line_of(where_), ")"));
  if (key.dim(0) != query.dim(0) || value.dim(0) != query.dim(0) || key.dim(1) != value.dim(1))
    throw ShapeError(str_cat("[MultiheadAttention ", name_, "] query ", query.shape().to_string(), ", key ",
                             key.shape().to_string(), " and value ", value.shape().to_string(),
                             " must share N, and key and value their length (", line_of(where_), ")"));
  std::vector<ParamSpec> s;
  collect(s);
  Graph& g = *query.graph;
  const Value w_in = param(g, s[0]), b_in = bias_ ? param(g, s[1]) : Value{};
  const Value w_out = param(g, s[bias_ ? 2 : 1]), b_out = bias_ ? param(g, s[3]) : Value{};
  const int64_t n = query.dim(0), l = query.dim(1), e = embed_, hd = embed_ / heads_;
  const Value mask = combined_mask(masks, n, key.dim(1));
  Value o;  // [N, L, H, hd]
  if (query == key && key == value) {
    // Self-attention: one GEMM for the three projections, its [N,L,3E] read as the packed
    // qkv [N,L,3,H,hd] by the attention op, whose gradient comes back packed too.
    Value qkv = reshape(linear(query, w_in, b_in, where_), {n, l, 3, heads_, hd}, where_);
    o = attention(qkv, {}, {}, mask, masks.causal);
  } else {
    // Separate inputs: the rows of in_proj_weight (and bias) for q, k and v, each
    // projection read as [N, length, H, hd].
    auto project = [&](Value x, int64_t i) {
      Value w = slice(w_in, 0, i * e, (i + 1) * e, where_);
      Value b = bias_ ? slice(b_in, 0, i * e, (i + 1) * e, where_) : Value{};
      return reshape(linear(x, w, b, where_), {x.dim(0), x.dim(1), heads_, hd}, where_);
    };
    o = attention(project(query, 0), project(key, 1), project(value, 2), mask, masks.causal);
  }
  return linear(reshape(o, {n, l, e}, where_), w_out, b_out, where_);
}

Value MultiheadAttention::combined_mask(const AttentionMasks& masks, int64_t n, int64_t s_len) const {
  Value mask;
  if (masks.key_padding.valid()) {
    if (masks.key_padding.shape() != Shape{n, s_len})
      throw ShapeError(str_cat("[MultiheadAttention ", name_, "] key_padding mask must be [N, S] = [", n, ", ", s_len,
                               "], got ", masks.key_padding.shape().to_string(), " (", line_of(where_), ")"));
    mask = reshape(masks.key_padding, {n, 1, 1, s_len}, where_);
  }
  if (masks.attn.valid()) mask = mask.valid() ? add(mask, masks.attn, where_) : masks.attn;
  return mask;
}

// q, k, v are [N, length, H, hd], or q is the packed qkv [N, L, 3, H, hd] and k, v are
// empty. Returns [N, L, H, hd].
Value MultiheadAttention::attention(Value q, Value k, Value v, Value mask, bool causal) const {
  const bool packed = !k.valid();
  if (!(training_ && dropout_ > 0))
    return packed ? scaled_dot_product_attention_packed(q, mask, 0, causal, where_)
                  : scaled_dot_product_attention_nlhd(q, k, v, mask, 0, causal, where_);
  if (causal)
    throw ValueError(str_cat("[MultiheadAttention ", name_, "] causal attention with attention dropout (", dropout_,
                             ") is not supported: set the dropout to 0 or pass the causal mask as attn (",
                             line_of(where_), ")"));
  // Dropout on the probabilities: the composed path, with the [N,H,L,S] scores.
  auto heads_first = [&](Value x) { return permute(x, {0, 2, 1, 3}, where_); };  // -> [N, H, length, hd]
  if (packed) {
    const std::vector<int64_t> nhld{q.dim(0), heads_, q.dim(1), q.dim(4)};
    Value qkv = permute(q, {2, 0, 3, 1, 4}, where_);  // [3, N, H, L, hd]
    auto part = [&](int64_t i) { return reshape(slice(qkv, 0, i, i + 1, where_), nhld, where_); };
    q = part(0);
    k = part(1);
    v = part(2);
  } else {
    q = heads_first(q);
    k = heads_first(k);
    v = heads_first(v);
  }
  Value scores = matmul(q, k, false, true, where_) * (1.0 / std::sqrt(static_cast<double>(q.dim(3))));
  if (mask.valid()) scores = add(scores, mask, where_);
  Value o = matmul(dropout(softmax(scores, -1, where_), dropout_, seed_, true, where_), v, false, false, where_);
  return heads_first(o);
}

// ---- TransformerEncoderLayer ----

TransformerEncoderLayer::TransformerEncoderLayer(std::string name, int64_t d_model, int64_t nhead,
                                                 TransformerEncoderOptions opt, std::source_location loc)
    : Module(std::move(name), loc), opt_(opt) {
  if (opt_.dim_feedforward <= 0)
    throw ValueError(str_cat("[TransformerEncoderLayer ", name_, "] dim_feedforward must be positive"));
  const double attn_dropout = opt_.attention_dropout < 0 ? opt_.dropout : opt_.attention_dropout;
  self_attn_ = std::make_shared<MultiheadAttention>(join(name_, "self_attn"), d_model, nhead, attn_dropout, true, loc);
  linear1_ = std::make_shared<Linear>(join(name_, "linear1"), d_model, opt_.dim_feedforward, true, loc);
  linear2_ = std::make_shared<Linear>(join(name_, "linear2"), opt_.dim_feedforward, d_model, true, loc);
  norm1_ = std::make_shared<LayerNorm>(join(name_, "norm1"), std::vector<int64_t>{d_model}, opt_.layer_norm_eps, true,
                                       true, loc);
  norm2_ = std::make_shared<LayerNorm>(join(name_, "norm2"), std::vector<int64_t>{d_model}, opt_.layer_norm_eps, true,
                                       true, loc);
  dropout_ = std::make_shared<Dropout>(join(name_, "dropout"), opt_.dropout, loc);
  dropout1_ = std::make_shared<Dropout>(join(name_, "dropout1"), opt_.dropout, loc);
  dropout2_ = std::make_shared<Dropout>(join(name_, "dropout2"), opt_.dropout, loc);
}

void TransformerEncoderLayer::collect(std::vector<ParamSpec>& out) const {
  self_attn_->collect(out);
  linear1_->collect(out);
  linear2_->collect(out);
  norm1_->collect(out);
  norm2_->collect(out);
}

void TransformerEncoderLayer::train(bool on) {
  Module::train(on);
  for (Module* m : std::initializer_list<Module*>{self_attn_.get(), linear1_.get(), linear2_.get(), norm1_.get(),
                                                  norm2_.get(), dropout_.get(), dropout1_.get(), dropout2_.get()})
    m->train(on);
}

Value TransformerEncoderLayer::self_attention_block(Value x, const AttentionMasks& masks) {
  return (*dropout1_)(self_attn_->attend(x, x, x, masks));
}

Value TransformerEncoderLayer::feed_forward_block(Value x) {
  Value h = (*linear1_)(x);
  h = opt_.gelu ? gelu(h, where_) : relu(h, where_);
  return (*dropout2_)((*linear2_)((*dropout_)(h)));
}

Value TransformerEncoderLayer::forward(Value x, const AttentionMasks& masks) {
  if (opt_.norm_first) {
    x = add(x, self_attention_block((*norm1_)(x), masks), where_);
    return add(x, feed_forward_block((*norm2_)(x)), where_);
  }
  x = (*norm1_)(add(x, self_attention_block(x, masks), where_));
  return (*norm2_)(add(x, feed_forward_block(x), where_));
}

}  // namespace dagrad::nn
