#include "frontend/nn.h"

#include <cmath>

#include "frontend/nn_init.h"
#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad::nn {

namespace detail {

uint64_t name_hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

Init uniform_fan_in(int64_t fan_in) {
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return [bound](Tensor& t, Generator& g) { fill_uniform(t, g, -bound, bound); };
}

Init xavier_uniform(int64_t fan_in, int64_t fan_out) {
  double bound = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return [bound](Tensor& t, Generator& g) { fill_uniform(t, g, -bound, bound); };
}

Init constant(double v) {
  return [v](Tensor& t, Generator&) { t.fill(v); };
}

Init normal(double stddev) {
  return [stddev](Tensor& t, Generator& g) { fill_normal(t, g, 0.0, stddev); };
}

std::string join(const std::string& a, const char* b) { return a.empty() ? b : a + "." + b; }

// A layer's weight and, with `bias`, its bias [weight[0]], both initialised as PyTorch's
// conv and linear layers are.
void weight_and_bias(std::vector<ParamSpec>& out, const std::string& layer, const Shape& weight, bool bias,
                     int64_t fan_in) {
  out.push_back({join(layer, "weight"), weight, true, uniform_fan_in(fan_in)});
  if (bias) out.push_back({join(layer, "bias"), Shape{weight[0]}, true, uniform_fan_in(fan_in)});
}

}  // namespace detail

using namespace detail;

Value Module::param(Graph& g, const ParamSpec& spec) const {
  if (g.has_node(spec.name)) {
    const Node& n = g.node(spec.name);
    if (!n.op->flags.bound_parameter || n.outputs[0].shape != spec.shape)
      throw GraphError(str_cat("[", name_, "] graph node '", spec.name, "' exists but is not a parameter of shape ",
                               spec.shape.to_string()));
    return Value{&g, n.id, 0};
  }
  return g.parameter(spec.name, spec.shape, DType::f32, spec.trainable);
}

std::vector<Value> Module::params(Graph& g) const {
  std::vector<ParamSpec> specs;
  collect(specs);
  std::vector<Value> values;
  for (const ParamSpec& spec : specs) values.push_back(param(g, spec));
  return values;
}

std::vector<ParamSpec> parameter_specs(const Module& m) {
  std::vector<ParamSpec> specs;
  m.collect(specs);
  return specs;
}

TensorMap init_parameters(const Module& m, uint64_t seed) {
  TensorMap params;
  for (const ParamSpec& s : parameter_specs(m)) {
    if (params.count(s.name)) throw ValueError(str_cat("two parameters are named '", s.name, "'"));
    Tensor t = Tensor::empty(s.shape, DType::f32);
    Generator gen(seed ^ name_hash(s.name));
    s.init(t, gen);
    params[s.name] = t;
  }
  return params;
}

int64_t count_parameters(const Module& m) {
  int64_t n = 0;
  for (const ParamSpec& s : parameter_specs(m))
    if (s.trainable) n += s.shape.numel();
  return n;
}

// ---- Conv2d ----

Conv2d::Conv2d(std::string name, int64_t in_channels, int64_t out_channels, Hw kernel, Conv2dOptions opt, bool bias,
               const std::source_location& loc)
    : Module(std::move(name), loc), in_(in_channels), out_(out_channels), kernel_(kernel), opt_(opt), bias_(bias) {
  if (in_ <= 0 || out_ <= 0 || kernel_.h <= 0 || kernel_.w <= 0)
    throw ValueError(str_cat("[Conv2d ", name_, "] channels and kernel size must be positive"));
}

void Conv2d::collect(std::vector<ParamSpec>& out) const {
  weight_and_bias(out, name_, Shape{out_, in_, kernel_.h, kernel_.w}, bias_, in_ * kernel_.h * kernel_.w);
}

Value Conv2d::forward(Value x) {
  std::vector<Value> p = params(*x.graph);  // weight, bias
  return dagrad::conv2d(x, p[0], bias_ ? p[1] : Value{}, opt_, where_);
}

// ---- Conv1d ----

Conv1d::Conv1d(std::string name, int64_t in_channels, int64_t out_channels, int64_t kernel, Conv1dOptions opt,
               bool bias, const std::source_location& loc)
    : Module(std::move(name), loc), in_(in_channels), out_(out_channels), kernel_(kernel), opt_(opt), bias_(bias) {
  if (in_ <= 0 || out_ <= 0 || kernel_ <= 0)
    throw ValueError(str_cat("[Conv1d ", name_, "] channels and kernel size must be positive"));
  if (opt_.groups <= 0 || in_ % opt_.groups || out_ % opt_.groups)
    throw ValueError(str_cat("[Conv1d ", name_, "] groups (", opt_.groups, ") must divide both channel counts (", in_,
                             " in, ", out_, " out)"));
}

void Conv1d::collect(std::vector<ParamSpec>& out) const {
  weight_and_bias(out, name_, Shape{out_, in_ / opt_.groups, kernel_}, bias_, in_ / opt_.groups * kernel_);
}

// [N, C, L] as [N, C, 1, L] and the weight as [O, C/g, 1, K]: both reshapes are views.
Value Conv1d::forward(Value x) {
  if (x.shape().rank() != 3)
    throw ShapeError(str_cat("[Conv1d ", name_, "] x must be [N, C, L], got shape ", x.shape().to_string(), " (",
                             SourceLoc::from(where_).to_string(), ")"));
  std::vector<Value> p = params(*x.graph);  // weight, bias
  Value w = reshape(p[0], {out_, in_ / opt_.groups, 1, kernel_}, where_);
  Value b = bias_ ? p[1] : Value{};
  const Conv2dOptions o{.stride = Hw(1, opt_.stride), .padding = Hw(0, opt_.padding), .dilation = Hw(1, opt_.dilation),
                        .groups = opt_.groups};
  Value y = dagrad::conv2d(reshape(x, {x.dim(0), x.dim(1), 1, x.dim(2)}, where_), w, b, o, where_);
  return reshape(y, {y.dim(0), y.dim(1), y.dim(3)}, where_);
}

// ---- Embedding ----

Embedding::Embedding(std::string name, int64_t num_embeddings, int64_t dim, const std::source_location& loc)
    : Module(std::move(name), loc), num_(num_embeddings), dim_(dim) {
  if (num_ <= 0 || dim_ <= 0)
    throw ValueError(str_cat("[Embedding ", name_, "] num_embeddings and dim must be positive"));
}

void Embedding::collect(std::vector<ParamSpec>& out) const {
  out.push_back({join(name_, "weight"), Shape{num_, dim_}, true,
                 normal(1.0)});
}

Value Embedding::forward(Value ids) {
  return dagrad::gather(params(*ids.graph)[0], ids, 0, where_);
}

// ---- PositionEmbedding ----

PositionEmbedding::PositionEmbedding(std::string name, int64_t length, int64_t dim, double init_std,
                                     const std::source_location& loc)
    : Module(std::move(name), loc), length_(length), dim_(dim), init_std_(init_std) {
  if (length_ <= 0 || dim_ <= 0) throw ValueError(str_cat("[PositionEmbedding ", name_, "] length and dim must be positive"));
  if (name_.empty()) throw ValueError("[PositionEmbedding] needs a name: it is the parameter's name");
}

void PositionEmbedding::collect(std::vector<ParamSpec>& out) const {
  out.push_back({name_, Shape{1, length_, dim_}, true, normal(init_std_)});
}

Value PositionEmbedding::forward(Value x) {
  if (x.shape().rank() != 3 || x.dim(1) != length_ || x.dim(2) != dim_)
    throw ShapeError(str_cat("[PositionEmbedding ", name_, "] x must be [N, ", length_, ", ", dim_, "], got shape ",
                             x.shape().to_string(), " (", SourceLoc::from(where_).to_string(), ")"));
  return dagrad::add(x, params(*x.graph)[0], where_);
}

// ---- Linear ----

Linear::Linear(std::string name, int64_t in_features, int64_t out_features, bool bias,
               const std::source_location& loc)
    : Module(std::move(name), loc), in_(in_features), out_(out_features), bias_(bias) {
  if (in_ <= 0 || out_ <= 0) throw ValueError(str_cat("[Linear ", name_, "] feature counts must be positive"));
}

void Linear::collect(std::vector<ParamSpec>& out) const { weight_and_bias(out, name_, Shape{out_, in_}, bias_, in_); }

Value Linear::forward(Value x) {
  std::vector<Value> p = params(*x.graph);  // weight, bias
  return dagrad::linear(x, p[0], bias_ ? p[1] : Value{}, where_);
}

// ---- BatchNorm2d ----

BatchNorm2d::BatchNorm2d(std::string name, int64_t channels, double momentum, double eps,
                         const std::source_location& loc)
    : Module(std::move(name), loc), channels_(channels), momentum_(momentum), eps_(eps) {}

void BatchNorm2d::collect(std::vector<ParamSpec>& out) const {
  Shape c{channels_};
  out.push_back({join(name_, "weight"), c, true, constant(1.0)});
  out.push_back({join(name_, "bias"), c, true, constant(0.0)});
  out.push_back({join(name_, "running_mean"), c, false, constant(0.0)});
  out.push_back({join(name_, "running_var"), c, false, constant(1.0)});
}

Value BatchNorm2d::forward(Value x) {
  std::vector<Value> p = params(*x.graph);  // weight, bias, running_mean, running_var
  return dagrad::batch_norm(x, p[0], p[1], p[2], p[3], training_, momentum_, eps_, where_);
}

// ---- Dropout ----

Dropout::Dropout(std::string name, double p, const std::source_location& loc)
    : Module(std::move(name), loc), p_(p), seed_(name_hash(name_)) {
  if (!(p >= 0 && p < 1)) throw ValueError(str_cat("[Dropout ", name_, "] p must be in [0, 1), got ", p));
}

// p = 0 adds no node, so nothing stands between the ops a fused group could join.
Value Dropout::forward(Value x) { return training_ && p_ > 0 ? dagrad::dropout(x, p_, seed_, true, where_) : x; }

// ---- Sequential ----

Value Sequential::forward(Value x) {
  for (const auto& layer : layers_) x = layer->forward(x);
  return x;
}

void Sequential::collect(std::vector<ParamSpec>& out) const {
  for (const auto& layer : layers_) layer->collect(out);
}

void Sequential::train(bool on) {
  Module::train(on);
  for (const auto& layer : layers_) layer->train(on);
}

// ---- shorthands ----

ModulePtr conv2d(std::string name, int64_t in, int64_t out, Hw kernel, Conv2dOptions opt, bool bias,
                 const std::source_location& loc) {
  return std::make_shared<Conv2d>(std::move(name), in, out, kernel, opt, bias, loc);
}
ModulePtr conv1d(std::string name, int64_t in, int64_t out, int64_t kernel, Conv1dOptions opt, bool bias,
                 const std::source_location& loc) {
  return std::make_shared<Conv1d>(std::move(name), in, out, kernel, opt, bias, loc);
}
ModulePtr linear(std::string name, int64_t in, int64_t out, bool bias, const std::source_location& loc) {
  return std::make_shared<Linear>(std::move(name), in, out, bias, loc);
}
ModulePtr embedding(std::string name, int64_t num_embeddings, int64_t dim, const std::source_location& loc) {
  return std::make_shared<Embedding>(std::move(name), num_embeddings, dim, loc);
}
ModulePtr position_embedding(std::string name, int64_t length, int64_t dim, const std::source_location& loc) {
  return std::make_shared<PositionEmbedding>(std::move(name), length, dim, 0.02, loc);
}
ModulePtr batch_norm2d(std::string name, int64_t channels, const std::source_location& loc) {
  return std::make_shared<BatchNorm2d>(std::move(name), channels, 0.1, 1e-5, loc);
}
ModulePtr dropout(std::string name, double p, const std::source_location& loc) {
  return std::make_shared<Dropout>(std::move(name), p, loc);
}
ModulePtr relu(const std::source_location& loc) {
  return std::make_shared<Lambda>("relu", [loc](Value x) { return dagrad::relu(x, loc); }, loc);
}
ModulePtr flatten(int64_t start_dim, const std::source_location& loc) {
  return std::make_shared<Lambda>(
      "flatten", [start_dim, loc](Value x) { return dagrad::flatten(x, start_dim, loc); }, loc);
}
ModulePtr max_pool2d(Pool2dOptions opt, const std::source_location& loc) {
  return std::make_shared<Lambda>("max_pool2d", [opt, loc](Value x) { return dagrad::max_pool2d(x, opt, loc); }, loc);
}
ModulePtr avg_pool2d(Pool2dOptions opt, const std::source_location& loc) {
  return std::make_shared<Lambda>("avg_pool2d", [opt, loc](Value x) { return dagrad::avg_pool2d(x, opt, loc); }, loc);
}
ModulePtr gelu(const std::source_location& loc) {
  return std::make_shared<Lambda>("gelu", [loc](Value x) { return dagrad::gelu(x, loc); }, loc);
}
ModulePtr log_softmax(int64_t axis, const std::source_location& loc) {
  return std::make_shared<Lambda>("log_softmax", [axis, loc](Value x) { return dagrad::log_softmax(x, axis, loc); },
                                  loc);
}

}  // namespace dagrad::nn
