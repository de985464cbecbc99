// The options of the commands that build a model (train, profile, plan; eval and predict
// from a checkpoint) and the one function that turns them into a TrainConfig
// (tests/cli/train_config_test.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "apps/common.h"
#include "frontend/optim.h"
#include "frontend/trainer.h"
#include "models/models.h"

namespace dagrad::cli {

struct TrainArgs {
  std::string model = "mnist-cnn";
  DataOptions data;
  ScheduleOptions sched;
  int64_t batch = 64;
  // Unset, these take the model's training recipe (models::default_recipe, resolved by
  // recipe() below): SGD lr 0.01 momentum 0.9, constant, 5 epochs for the CNNs, the MLP
  // and ONNX models; AdamW lr 5e-3 weight decay 0.1, one-cycle, 10 epochs for mnist-vit.
  std::optional<int> epochs;
  std::optional<std::string> optimizer;
  std::optional<double> lr, momentum, weight_decay;
  std::optional<std::string> schedule;
  std::optional<int64_t> warmup;
  bool nesterov = false;
  int64_t step_size = optim::LrSchedule::kEpoch;  // --step-size N: steps; by default one epoch
  double gamma = 0.7;
  uint64_t seed = 1;
  std::string device = "cpu";
  std::string out = "out";
  std::string save, resume;
  int64_t max_steps = -1;
  bool quiet = false;
  bool check_numerics = false;
  std::string loss = "auto";  // nll | cross-entropy | auto: as the model's output is

  // Every flag of `dagrad train`.
  void add_to(CLI::App& cmd);
};

// The recipe that `a` trains with: each flag given, else the model's own
// (models::default_recipe).
models::Recipe recipe(const TrainArgs& a);

// The TrainConfig of `a`: the recipe above, every option in its place, the device
// checked (a one-line DeviceError when it cannot be used), and the schedule's step size and length left per
// epoch and per run (LrSchedule::kEpoch, kRun) for the Trainer, which knows how many
// steps an epoch has. `stop_requested` is polled between steps (Ctrl-C).
TrainConfig train_config(const TrainArgs& a, const std::atomic<bool>* stop_requested = nullptr);

// --model (default: the model the checkpoint names), the data options and --load: what
// eval and predict rebuild a trained model from.
struct CheckpointArgs {
  std::string model;  // empty: the checkpoint's
  DataOptions data;
  std::string load;

  void add_to(CLI::App& cmd);
  // A trainer of the checkpoint's model (train_config() of it) holding its parameters,
  // evaluating in batches of `eval_batch`.
  std::unique_ptr<Trainer> load_trainer(int64_t eval_batch = 1000) const;
};

}  // namespace dagrad::cli
