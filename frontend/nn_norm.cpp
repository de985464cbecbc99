#include "frontend/nn_norm.h"

#include "frontend/nn_init.h"
#include "runtime/error.h"

namespace dagrad::nn {

using namespace detail;

// ---- LayerNorm ----

LayerNorm::LayerNorm(std::string name, std::vector<int64_t> normalized_shape, double eps, bool elementwise_affine,
                     bool bias, std::source_location loc)
    : Module(std::move(name), loc), shape_(std::move(normalized_shape)), eps_(eps), affine_(elementwise_affine),
      bias_(bias && elementwise_affine) {
  if (shape_.empty()) throw ValueError(str_cat("[LayerNorm ", name_, "] normalized_shape must not be empty"));
  for (int64_t d : shape_)
    if (d <= 0) throw ValueError(str_cat("[LayerNorm ", name_, "] normalized_shape must be positive, got ", Shape(shape_).to_string()));
  if (!(eps_ >= 0)) throw ValueError(str_cat("[LayerNorm ", name_, "] eps must be >= 0, got ", eps_));
}

void LayerNorm::collect(std::vector<ParamSpec>& out) const {
  if (!affine_) return;
  out.push_back({join(name_, "weight"), Shape(shape_), true, constant(1.0)});
  if (bias_) out.push_back({join(name_, "bias"), Shape(shape_), true, constant(0.0)});
}

Value LayerNorm::forward(Value x) {
  const Shape& s = x.shape();
  const size_t k = shape_.size();
  if (s.rank() < k || !std::equal(shape_.begin(), shape_.end(), s.end() - static_cast<std::ptrdiff_t>(k)))
    throw ShapeError(str_cat("[LayerNorm ", name_, "] x has shape ", s.to_string(), " but the module normalises over ",
                             Shape(shape_).to_string(), ", which must be its trailing dims (",
                             SourceLoc::from(where_).to_string(), ")"));
  std::vector<ParamSpec> specs;
  collect(specs);
  Graph& g = *x.graph;
  Value w = affine_ ? param(g, specs[0]) : Value{};
  Value b = bias_ ? param(g, specs[1]) : Value{};
  return dagrad::layer_norm(x, w, b, -static_cast<int64_t>(k), eps_, where_);
}

// ---- GroupNorm ----

GroupNorm::GroupNorm(std::string name, int64_t num_groups, int64_t num_channels, double eps, bool affine,
                     std::source_location loc)
    : Module(std::move(name), loc), groups_(num_groups), channels_(num_channels), eps_(eps), affine_(affine) {
  if (groups_ <= 0 || channels_ <= 0 || channels_ % groups_)
    throw ValueError(str_cat("[GroupNorm ", name_, "] num_groups (", groups_, ") must be positive and divide num_channels (",
                             channels_, ")"));
}

void GroupNorm::collect(std::vector<ParamSpec>& out) const {
  if (!affine_) return;
  out.push_back({join(name_, "weight"), Shape{channels_}, true, constant(1.0)});
  out.push_back({join(name_, "bias"), Shape{channels_}, true, constant(0.0)});
}

// x [N, C, *] as [N, G, C/G·*], normalised over the last dim; the per-channel affine
// broadcasts as [1, C, 1, ...] (a fused elementwise group).
Value GroupNorm::forward(Value x) {
  const Shape& s = x.shape();
  if (s.rank() < 2 || s[1] != channels_)
    throw ShapeError(str_cat("[GroupNorm ", name_, "] x must be [N, ", channels_, ", ...], got shape ", s.to_string(),
                             " (", SourceLoc::from(where_).to_string(), ")"));
  Value y = dagrad::layer_norm(reshape(x, {s[0], groups_, -1}, where_), {}, {}, -1, eps_, where_);
  y = reshape(y, std::vector<int64_t>(s.begin(), s.end()), where_);
  if (!affine_) return y;
  std::vector<ParamSpec> specs;
  collect(specs);
  std::vector<int64_t> per_channel(s.rank(), 1);
  per_channel[1] = channels_;
  Graph& g = *x.graph;
  return y * reshape(param(g, specs[0]), per_channel, where_) + reshape(param(g, specs[1]), per_channel, where_);
}

ModulePtr layer_norm(std::string name, int64_t dim, std::source_location loc) {
  return std::make_shared<LayerNorm>(std::move(name), std::vector<int64_t>{dim}, 1e-5, true, true, loc);
}

ModulePtr group_norm(std::string name, int64_t num_groups, int64_t num_channels, std::source_location loc) {
  return std::make_shared<GroupNorm>(std::move(name), num_groups, num_channels, 1e-5, true, loc);
}

}  // namespace dagrad::nn
