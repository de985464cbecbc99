#include "frontend/optim.h"

#include <cmath>
#include <numbers>

#include "runtime/error.h"

namespace dagrad::optim {

namespace {

std::function<void(Tensor&, Generator&)> zeros() {
  return [](Tensor& t, Generator&) { t.fill(0); };
}

Value state(Graph& g, const nn::ParamSpec& spec) {
  if (g.has_node(spec.name)) return Value{&g, g.node(spec.name).id, 0};
  return g.parameter(spec.name, spec.shape, DType::f32, /*trainable=*/false);
}

void check_lengths(std::span<const Value> params, std::span<const Value> grads) {
  if (params.size() != grads.size())
    throw ValueError(str_cat("optimizer: ", params.size(), " parameters but ", grads.size(), " gradients"));
}

}  // namespace

std::vector<nn::ParamSpec> Optimizer::state_specs(const std::vector<nn::ParamSpec>& params) const {
  std::vector<nn::ParamSpec> specs;
  for (const nn::ParamSpec& p : params)
    if (p.trainable)
      for (auto& s : state_specs(p.name, p.shape)) specs.push_back(std::move(s));
  return specs;
}

std::vector<nn::ParamSpec> Sgd::state_specs(const std::string& param, const Shape& shape) const {
  if (opt_.momentum == 0) return {};
  return {{param + ".momentum_buffer", shape, false, zeros()}};
}

void Sgd::add_updates(Graph& g, std::span<const Value> params, std::span<const Value> grads, Value lr) const {
  check_lengths(params, grads);
  for (size_t i = 0; i < params.size(); ++i) {
    auto specs = state_specs(params[i].producer().name, params[i].shape());
    sgd_update(params[i], grads[i], lr, specs.empty() ? Value{} : state(g, specs[0]), opt_);
  }
}

std::vector<nn::ParamSpec> Adam::state_specs(const std::string& param, const Shape& shape) const {
  return {{param + ".exp_avg", shape, false, zeros()},
          {param + ".exp_avg_sq", shape, false, zeros()},
          {param + ".step", Shape{}, false, zeros()}};
}

void Adam::add_updates(Graph& g, std::span<const Value> params, std::span<const Value> grads, Value lr) const {
  check_lengths(params, grads);
  for (size_t i = 0; i < params.size(); ++i) {
    auto s = state_specs(params[i].producer().name, params[i].shape());
    adam_update(params[i], grads[i], lr, state(g, s[0]), state(g, s[1]), state(g, s[2]), opt_);
  }
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, double momentum, double weight_decay,
                                          bool nesterov) {
  if (name == "sgd") return std::make_unique<Sgd>(SgdOptions{momentum, weight_decay, nesterov});
  if (name == "adam" || name == "adamw") {
    AdamOptions o;
    o.weight_decay = weight_decay;
    o.decoupled_weight_decay = name == "adamw";
    return std::make_unique<Adam>(o);
  }
  throw ValueError(str_cat("unknown optimizer '", name, "' (expected sgd, adam or adamw)"));
}

namespace {

// Cosine interpolation from `from` (pct 0) to `to` (pct 1), as PyTorch's _annealing_cos.
double anneal_cos(double from, double to, double pct) {
  return to + (from - to) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

}  // namespace

// PyTorch's OneCycleLR (three_phase=False, anneal_strategy='cos'): the rise ends at step
// pct_start·total - 1, the fall at total - 1; beyond it the final lr stays.
double LrSchedule::one_cycle(int64_t step) const {
  const double initial = base_lr / div_factor, final_lr = initial / final_div_factor;
  const double rise_end = pct_start * static_cast<double>(total_steps) - 1.0;
  const double fall_end = static_cast<double>(total_steps) - 1.0;
  const double s = static_cast<double>(step);
  if (s <= rise_end) return anneal_cos(initial, base_lr, rise_end > 0 ? s / rise_end : 1.0);
  const double span = fall_end - rise_end;
  return anneal_cos(base_lr, final_lr, span > 0 ? std::min(1.0, (s - rise_end) / span) : 1.0);
}

double LrSchedule::at(int64_t step) const {
  double lr = base_lr;
  switch (kind) {
    case Kind::constant: break;
    case Kind::step: lr = base_lr * std::pow(gamma, static_cast<double>(step / std::max<int64_t>(step_size, 1))); break;
    case Kind::cosine: {
      double progress = std::min(1.0, static_cast<double>(step) / static_cast<double>(std::max<int64_t>(total_steps, 1)));
      lr = min_lr + (base_lr - min_lr) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
      break;
    }
    case Kind::onecycle: lr = one_cycle(step); break;
  }
  if (warmup_steps > 0 && step < warmup_steps) lr *= static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  return lr;
}

LrSchedule LrSchedule::for_run(int64_t steps_per_epoch, int64_t epochs) const {
  LrSchedule s = *this;
  if (s.step_size == kEpoch) s.step_size = steps_per_epoch;
  if (s.total_steps == kRun) s.total_steps = steps_per_epoch * epochs;
  return s;
}

LrSchedule::Kind LrSchedule::parse_kind(const std::string& s) {
  if (s == "constant") return Kind::constant;
  if (s == "step") return Kind::step;
  if (s == "cosine") return Kind::cosine;
  if (s == "onecycle") return Kind::onecycle;
  throw ValueError(str_cat("unknown learning-rate schedule '", s, "' (expected constant, step, cosine or onecycle)"));
}

}  // namespace dagrad::optim
