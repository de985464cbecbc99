#include "frontend/nn.h"

#include <cmath>

#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad::nn {

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// PyTorch's default for conv and linear layers: kaiming_uniform_(a=sqrt(5)) for the
// weight and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias, i.e. both uniform with
// bound 1/sqrt(fan_in).
std::function<void(Tensor&, Generator&)> uniform_fan_in(int64_t fan_in) {
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return [bound](Tensor& t, Generator& g) { fill_uniform(t, g, -bound, bound); };
}

std::function<void(Tensor&, Generator&)> constant(double v) {
  return [v](Tensor& t, Generator&) { t.fill(v); };
}

std::string join(const std::string& a, const char* b) { return a.empty() ? b : a + "." + b; }

// A layer's weight and, with `bias`, its bias [weight[0]], both initialised as PyTorch's
// conv and linear layers are.
void weight_and_bias(std::vector<ParamSpec>& out, const std::string& layer, const Shape& weight, bool bias,
                     int64_t fan_in) {
  out.push_back({join(layer, "weight"), weight, true, uniform_fan_in(fan_in)});
  if (bias) out.push_back({join(layer, "bias"), Shape{weight[0]}, true, uniform_fan_in(fan_in)});
}

}  // namespace

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
    Generator gen(seed ^ fnv1a(s.name));
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
    : Module(std::move(name), loc), p_(p), seed_(fnv1a(name_)) {
  if (!(p >= 0 && p < 1)) throw ValueError(str_cat("[Dropout ", name_, "] p must be in [0, 1), got ", p));
}

Value Dropout::forward(Value x) { return training_ ? dagrad::dropout(x, p_, seed_, true, where_) : x; }

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
ModulePtr linear(std::string name, int64_t in, int64_t out, bool bias, const std::source_location& loc) {
  return std::make_shared<Linear>(std::move(name), in, out, bias, loc);
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
ModulePtr log_softmax(int64_t axis, const std::source_location& loc) {
  return std::make_shared<Lambda>("log_softmax", [axis, loc](Value x) { return dagrad::log_softmax(x, axis, loc); },
                                  loc);
}

}  // namespace dagrad::nn
