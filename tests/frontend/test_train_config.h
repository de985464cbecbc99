// The TrainConfig the training tests start from (tests/frontend, perf, cuda, comm).
#pragma once
#include <string>

#include "frontend/trainer.h"

namespace dagrad::testing {

// `model` for `epochs` epochs: batches of 32, evaluation batches of 100, SGD with lr
// 0.02 (momentum 0.9), no progress bar.
inline TrainConfig test_train_config(const std::string& model, int epochs = 1) {
  TrainConfig cfg;
  cfg.model_name = model;
  cfg.epochs = epochs;
  cfg.batch_size = 32;
  cfg.eval_batch_size = 100;
  cfg.schedule.base_lr = 0.02;
  cfg.progress = false;
  return cfg;
}

}  // namespace dagrad::testing
