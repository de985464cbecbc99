// A short training run that the frontend tests compare bit for bit with another: the
// per-step losses, the state after it and the plan of its training step.
#pragma once
#include <sstream>
#include <vector>

#include "frontend/trainer.h"
#include "models/models.h"
#include "scheduler/plan.h"
#include "scheduler/session.h"

namespace dagrad::testing {

// The compiled plan of `trainer`'s step on an MNIST-shaped batch of `batch_size`.
inline const scheduler::ExecutionPlan& step_plan(Trainer& trainer, int64_t batch_size) {
  const TensorMap batch{{trainer.names().input, Tensor::zeros(Shape{batch_size, 1, 28, 28})},
                        {trainer.names().target, Tensor::zeros(Shape{batch_size}, DType::i64)},
                        {"lr", Tensor::full(Shape{}, 0.01)}};
  return trainer.train_session().executor_for(batch).plan();
}

struct TrainRun {
  std::vector<float> losses;
  TensorMap state;
  size_t peak = 0;        // the step's planned arena
  size_t recomputed = 0;  // nodes it recomputes
};

// What `trainer` (built with cfg) did so far, and its step's plan.
inline TrainRun recorded_run(Trainer& trainer, const TrainConfig& cfg) {
  TrainRun r;
  r.losses = trainer.step_losses();
  for (const auto& [name, t] : trainer.state()) r.state[name] = t.clone();
  const scheduler::ExecutionPlan& plan = step_plan(trainer, cfg.batch_size);
  r.peak = plan.arena_bytes;
  r.recomputed = plan.recompute.nodes.size();
  return r;
}

// One epoch of `data` for cfg.model_name under cfg.
inline TrainRun train_run(const TrainConfig& cfg, const Dataset& data) {
  std::ostringstream log;
  Trainer trainer(models::make_model(cfg.model_name), cfg, log);
  trainer.train_epoch(data, 0);
  return recorded_run(trainer, cfg);
}

}  // namespace dagrad::testing
