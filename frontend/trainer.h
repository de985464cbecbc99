// The training program: builds the training-step graph (forward, the objective's loss,
// autograd backward, optimizer updates) once per batch shape, compiles it with the
// scheduler, and runs it over a DataLoader; evaluates with a second, forward-only graph
// that computes the objective's metrics; saves and resumes safetensors checkpoints
// holding parameters and optimizer state. It knows no task and no data format: the loss
// and metrics come from TrainConfig::objective, the input names from the data set.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frontend/data/dataset.h"
#include "frontend/metrics.h"
#include "frontend/nn.h"
#include "frontend/objective.h"
#include "frontend/optim.h"
#include "runtime/device.h"
#include "scheduler/compile_options.h"

namespace dagrad {

namespace scheduler {
class Session;
}

struct TrainConfig {
  std::string model_name = "model";  // stored in checkpoints, checked on load
  int epochs = 1;
  int64_t batch_size = 64;
  int64_t eval_batch_size = 1000;
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double momentum = 0.9;
  double weight_decay = 0;
  bool nesterov = false;
  // base_lr is the learning rate; step_size LrSchedule::kEpoch and total_steps
  // LrSchedule::kRun are filled in from the number of steps of an epoch.
  optim::LrSchedule schedule;
  uint64_t seed = 1;           // initialisation, shuffling and dropout
  scheduler::CompileOptions compile;
  // Where parameters and optimizer state live and the compiled steps run (Device::cuda()
  // for the GPU); batches come from the host and results go back to it.
  Device device = Device::cpu();
  // The loss minimised and the metrics evaluation reports (frontend/objective.h). The
  // built-in models end in log_softmax: classification on log-probabilities.
  std::shared_ptr<const Objective> objective = classification();
  // The graph-input names of the model's input and of the targets. train_epoch, evaluate
  // and fit use the names of their data set (Dataset::names()) instead, so these matter
  // to predict() before any data set and to train_session() run by hand. The default is
  // MnistDataset's.
  SampleNames names{"images", "labels"};
  int64_t max_steps_per_epoch = -1;  // < 0: whole epochs (tests and benchmarks cap it)
  bool progress = true;              // progress bar on stderr
  // Stop at the first op that writes NaN/Inf, naming it (see Executor::set_check_numerics);
  // turns fusion off so the culprit is a single op.
  bool check_numerics = false;
  // Polled between steps (e.g. set by a SIGINT handler): training stops with
  // InterruptedError after the current step, before anything is written.
  const std::atomic<bool>* stop_requested = nullptr;
  // Data parallelism over comm::world() (e.g. under mpirun): batch_size is per rank, and
  // rank r takes the r-th slice of every global batch of batch_size * world samples;
  // parameters start as rank 0's; gradients are averaged by one all-reduce per bucket
  // of about bucket_mb MiB (frontend/data_parallel.h); losses are global means;
  // evaluate() gives each rank a share of the samples and sums the results; only rank 0
  // draws progress and logs. allreduce_in_one_process adds the all-reduce nodes
  // in a world of 1 too (to inspect the plan).
  double bucket_mb = 1.0;
  bool allreduce_in_one_process = false;
  // CUDA: float32 GEMMs and convolutions may use TF32 tensor cores (ops/math_mode.h).
  // The setting is process-wide: constructing a Trainer sets it to this value.
  bool tf32 = false;
};

struct EvalResult {
  double loss = 0;  // mean over samples
  int64_t samples = 0;
  // Each of the objective's metrics added up over the data set, by name (classification:
  // "confusion", int64 [C,C], rows the true class and columns the predicted one). Empty
  // when there were no samples.
  TensorMap totals;
  // What the objective makes of the totals (classification: "accuracy", a fraction).
  std::vector<Score> scores;

  double score(std::string_view name) const { return score_named(scores, name); }
};

// Thrown when the loss, the test loss or the parameters stop being finite; the last
// checkpoint on disk is untouched.
class DivergedError : public Error {
  using Error::Error;
};
// Thrown when TrainConfig::stop_requested was set; nothing was half-written.
class InterruptedError : public Error {
  using Error::Error;
};

// The model name a checkpoint written by Trainer::save records ("mnist-cnn", ...);
// ValueError naming the file when it records none (e.g. a checkpoint from elsewhere).
std::string checkpoint_model_name(const std::filesystem::path& path);

class Trainer {
 public:
  // Initialises parameters from cfg.seed (or from a checkpoint with resume()).
  Trainer(std::shared_ptr<nn::Module> model, TrainConfig cfg, std::ostream& log);
  ~Trainer();

  // One epoch (0-based `epoch` fixes the shuffle); returns its mean training loss.
  double train_epoch(const Dataset& train, int epoch);
  EvalResult evaluate(const Dataset& data);
  // Runs epochs from the next one (after resume()) to cfg.epochs, evaluating on `test`
  // after each, calling `after_epoch` (e.g. to save a checkpoint and plot). Throws
  // DivergedError, before `after_epoch`, when a step's loss, the test loss or the
  // parameters and optimizer state after an epoch are not finite.
  std::vector<EpochMetrics> fit(const Dataset& train, const Dataset& test,
                                const std::function<void(const EpochMetrics&)>& after_epoch = {});

  // Parameters + optimizer state + metadata (model, epoch, step, seed, optimizer).
  // Throws DivergedError, writing nothing, when any of them holds NaN or Inf.
  void save(const std::filesystem::path& path) const;
  // Loads a checkpoint written by save(): checks the model name and every tensor's
  // shape, and continues from its epoch and step, so the same seed and thread count
  // reproduce an uninterrupted run's losses exactly.
  void resume(const std::filesystem::path& path);
  // Loads parameters only (for evaluation or prediction); optimizer state is ignored.
  void load_parameters(const std::filesystem::path& path);

  const std::vector<float>& step_losses() const { return step_losses_; }
  int epochs_done() const { return epochs_done_; }
  uint64_t global_step() const { return global_step_; }
  TensorMap& state() { return state_; }
  scheduler::Session& train_session() { return *train_session_; }
  // The graph-input names in use: TrainConfig::names, then those of the last data set.
  const SampleNames& names() const { return names_; }
  // Forward pass in evaluation mode: the model's output (on the host) for a batch of
  // inputs (the built-in models: log-probabilities for float32 images [B,1,28,28]).
  Tensor predict(const Tensor& input);

 private:
  // Copies the checkpoint's tensors into the bound state; returns its metadata.
  std::map<std::string, std::string> load_checkpoint(const std::filesystem::path& path, bool with_optimizer_state);
  // The graphs bind a data set's tensors under its names from now on.
  void use_names(const SampleNames& names);
  TensorMap inputs_of(const Batch& b) const { return {{names_.input, b.input}, {names_.target, b.target}}; }

  std::shared_ptr<nn::Module> model_;
  TrainConfig cfg_;
  std::ostream& log_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  TensorMap state_;  // parameters and optimizer state, bound into both sessions
  std::unique_ptr<scheduler::Session> train_session_;
  std::unique_ptr<scheduler::Session> eval_session_;
  SampleNames names_;
  std::vector<std::string> metric_names_;  // the eval graph's outputs after the loss, in order
  std::vector<float> step_losses_;
  int epochs_done_ = 0;
  uint64_t global_step_ = 0;
};

}  // namespace dagrad
