// Optimizers as graph transforms: each appends one update node per parameter that writes
// the parameter and its named state in place (DESIGN.md "Optimizers"). State lives in the
// same TensorMap as the parameters, under PyTorch's names (<param>.momentum_buffer,
// <param>.exp_avg, <param>.exp_avg_sq, <param>.step), so it is checkpointed with them.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frontend/nn.h"
#include "ops/ops.h"

namespace dagrad::optim {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  // State buffers of one parameter (all start at zero), named after it.
  virtual std::vector<nn::ParamSpec> state_specs(const std::string& param, const Shape& shape) const = 0;
  // State buffers of every trainable parameter among `params`.
  std::vector<nn::ParamSpec> state_specs(const std::vector<nn::ParamSpec>& params) const;
  // Appends the update nodes; `lr` is the float32 scalar graph input holding the
  // learning rate of the current step.
  virtual void add_updates(Graph& g, std::span<const Value> params, std::span<const Value> grads, Value lr) const = 0;
};

class Sgd final : public Optimizer {
 public:
  explicit Sgd(SgdOptions opt = {}) : opt_(opt) {}
  std::string name() const override { return opt_.nesterov ? "sgd (nesterov)" : "sgd"; }
  using Optimizer::state_specs;
  std::vector<nn::ParamSpec> state_specs(const std::string& param, const Shape& shape) const override;
  void add_updates(Graph& g, std::span<const Value> params, std::span<const Value> grads, Value lr) const override;

 private:
  SgdOptions opt_;
};

class Adam final : public Optimizer {
 public:
  explicit Adam(AdamOptions opt = {}) : opt_(opt) {}
  std::string name() const override { return opt_.decoupled_weight_decay ? "adamw" : "adam"; }
  using Optimizer::state_specs;
  std::vector<nn::ParamSpec> state_specs(const std::string& param, const Shape& shape) const override;
  void add_updates(Graph& g, std::span<const Value> params, std::span<const Value> grads, Value lr) const override;

 private:
  AdamOptions opt_;
};

// "sgd", "adam" or "adamw"; throws ValueError naming the choices otherwise.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, double momentum, double weight_decay,
                                          bool nesterov = false);

// Learning rate as a function of the global step (0-based).
//   constant  base_lr
//   step      base_lr · gamma^(step / step_size)
//   cosine    min_lr + (base_lr - min_lr)·(1 + cos(π·step/total_steps))/2
//   onecycle  PyTorch's OneCycleLR (two phases, cosine annealing, no momentum cycling):
//             from base_lr/div_factor up to base_lr over the first pct_start of
//             total_steps, then down to base_lr/(div_factor·final_div_factor)
// warmup_steps scales any of them linearly from 0 over the first steps.
struct LrSchedule {
  enum class Kind { constant, step, cosine, onecycle };
  Kind kind = Kind::constant;
  double base_lr = 0.01;
  int64_t step_size = 1;    // step: multiply by gamma every step_size steps; kEpoch: every epoch
  double gamma = 0.1;
  int64_t total_steps = 1;  // cosine: decays to min_lr at total_steps; onecycle: the cycle's length;
                            // kRun: every step of the run
  double min_lr = 0;
  double pct_start = 0.3;   // onecycle: share of the steps spent rising
  double div_factor = 25;   // onecycle: initial lr = base_lr / div_factor
  double final_div_factor = 1e4;  // onecycle: final lr = initial lr / final_div_factor
  int64_t warmup_steps = 0;  // linear warm-up from 0 over the first steps (any kind)

  // Lengths that the Trainer fills in once it knows how many steps an epoch has.
  static constexpr int64_t kEpoch = 0;  // step_size: one epoch (as PyTorch's StepLR per epoch)
  static constexpr int64_t kRun = 0;    // total_steps: every step of every epoch

  double at(int64_t step) const;
  // This schedule with kEpoch and kRun replaced for a run of `epochs` epochs of
  // `steps_per_epoch` steps each.
  LrSchedule for_run(int64_t steps_per_epoch, int64_t epochs) const;
  static Kind parse_kind(const std::string& s);  // "constant", "step", "cosine", "onecycle"

 private:
  double one_cycle(int64_t step) const;
};

}  // namespace dagrad::optim
