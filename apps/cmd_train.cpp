// dagrad train / dagrad eval: the MNIST training program and its evaluation.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "apps/common.h"
#include "comm/communicator.h"
#include "frontend/metrics.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace dagrad::cli {

namespace {

struct TrainArgs {
  std::string model = "mnist-cnn";
  DataOptions data;
  ScheduleOptions sched;
  int epochs = 5;
  int64_t batch = 64;
  std::string optimizer = "sgd";
  double lr = 0.01, momentum = 0.9, weight_decay = 0;
  bool nesterov = false;
  std::string schedule = "constant";
  int64_t step_size = 1;
  double gamma = 0.7;
  int64_t warmup = 0;
  uint64_t seed = 1;
  std::string device = "cpu";
  std::string out = "out";
  std::string save, resume;
  int64_t max_steps = -1;
  bool quiet = false;
  bool check_numerics = false;
};

void print_confusion(const EvalResult& r) {
  std::cout << "confusion matrix (rows: true class, columns: predicted)\n     ";
  for (size_t c = 0; c < r.confusion.size(); ++c) std::cout << std::setw(6) << c;
  std::cout << "\n";
  for (size_t t = 0; t < r.confusion.size(); ++t) {
    std::cout << std::setw(5) << t;
    for (int64_t n : r.confusion[t]) std::cout << std::setw(6) << n;
    std::cout << "\n";
  }
}

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) {
  g_stop = true;
  std::signal(SIGINT, SIG_DFL);
}

TrainConfig make_train_config(const TrainArgs& a, Device device, int64_t train_size) {
  const comm::Communicator& world = comm::world();
  TrainConfig cfg;
  cfg.model_name = a.model;
  cfg.epochs = a.epochs;
  cfg.batch_size = a.batch;
  cfg.optimizer = a.optimizer;
  cfg.momentum = a.momentum;
  cfg.weight_decay = a.weight_decay;
  cfg.nesterov = a.nesterov;
  cfg.schedule.kind = optim::LrSchedule::parse_kind(a.schedule);
  cfg.schedule.base_lr = a.lr;
  cfg.schedule.step_size = a.step_size;
  cfg.schedule.gamma = a.gamma;
  cfg.schedule.warmup_steps = a.warmup;
  const int64_t global_batch = a.batch * world.world_size();
  int64_t steps_per_epoch = (train_size + global_batch - 1) / global_batch;
  if (a.max_steps >= 0) steps_per_epoch = std::min(steps_per_epoch, a.max_steps);
  cfg.schedule.total_steps = steps_per_epoch * a.epochs;
  if (a.schedule == "step" && a.step_size == 1) cfg.schedule.step_size = steps_per_epoch;  // per epoch, as StepLR
  cfg.seed = a.seed;
  cfg.compile = a.sched.compile_options();
  a.sched.apply_math_mode();
  cfg.max_steps_per_epoch = a.max_steps;
  cfg.progress = !a.quiet;
  cfg.stop_requested = &g_stop;
  cfg.check_numerics = a.check_numerics;
  cfg.device = device;
  cfg.bucket_mb = a.sched.bucket_mb;
  cfg.allreduce_in_one_process = a.sched.allreduce;
  return cfg;
}

void print_model_line(const TrainArgs& a, const nn::Module& model) {
  std::cout << "model: " << a.model << " (" << nn::count_parameters(model) << " parameters), optimizer " << a.optimizer
            << " lr " << a.lr << ", batch " << a.batch << ", " << num_threads() << " threads, " << a.sched.streams
            << " stream(s)\n";
}

// --epochs 0 without --resume: the initialised parameters (and zero optimizer state) as
// an epoch-0 checkpoint, to compare initialisations or to start several runs from it.
// Needs no data.
void save_initial_checkpoint(const TrainArgs& a, Device device, const std::filesystem::path& ckpt) {
  auto model = models::make_model(a.model);
  Trainer trainer(model, make_train_config(a, device, 0), std::cout);
  print_model_line(a, *model);
  if (comm::world().rank() != 0) return;
  trainer.save(ckpt);
  std::cout << "no epochs to train: wrote the initialised parameters (seed " << a.seed << ")\ncheckpoint: "
            << ckpt.string() << "\n";
}

void run_train(const TrainArgs& a) {
  const Device device = check_device(a.device);
  const std::filesystem::path out(a.out);
  const std::filesystem::path ckpt = a.save.empty() ? out / (a.model + ".safetensors") : std::filesystem::path(a.save);
  const bool initial_only = a.epochs == 0 && a.resume.empty();
  if (!initial_only || a.save.empty()) prepare_output_directory(out, "--out");
  if (!a.save.empty()) prepare_output_file(ckpt, "--save");
  if (initial_only) return save_initial_checkpoint(a, device, ckpt);

  // Ctrl-C finishes the current step and stops cleanly; a second one kills at once.
  std::signal(SIGINT, on_sigint);
  MnistDataset train = a.data.load("train");
  MnistDataset test = a.data.load("test");
  std::cout << "data: " << a.data.directory().string() << " (" << train.size() << " train, " << test.size()
            << " test images)\n";
  const comm::Communicator& world = comm::world();
  if (world.world_size() > 1)
    std::cout << "data parallel: " << world.world_size() << " ranks (" << world.name() << "), batch " << a.batch
              << " per rank = " << a.batch * world.world_size() << " global, gradient buckets of " << a.sched.bucket_mb
              << " MiB\n";

  auto model = models::make_model(a.model);
  Trainer trainer(model, make_train_config(a, device, train.size()), std::cout);
  print_model_line(a, *model);
  if (!a.resume.empty()) {
    trainer.resume(a.resume);
    std::cout << "resumed from " << a.resume << " after epoch " << trainer.epochs_done() << " (step "
              << trainer.global_step() << ")\n";
  }

  const std::filesystem::path csv = out / "metrics.csv";
  const std::filesystem::path svg = out / "curves.svg";
  std::vector<EpochMetrics> history;
  trainer.fit(train, test, [&](const EpochMetrics& m) {
    history.push_back(m);
    if (world.rank() != 0) return;  // one writer: rank 0 holds the same parameters as every rank
    trainer.save(ckpt);
    write_metrics_csv(csv, history);
    write_text_atomically(svg, metrics_svg(history, a.model + " on " + a.data.directory().string()));
  });
  if (history.empty()) {
    std::cout << "nothing to train: the checkpoint already has " << trainer.epochs_done() << " epochs\n";
    return;
  }
  const EpochMetrics& last = history.back();
  std::cout << std::fixed << std::setprecision(2) << "test accuracy: " << 100 * last.test_accuracy << "%\n"
            << "checkpoint: " << ckpt.string() << "\nmetrics: " << csv.string() << "\nplot: " << svg.string() << "\n";
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "train a model, evaluating after every epoch");
  cmd->add_option("--model", a->model, "mnist-cnn, lenet5 or mlp")
      ->check(CLI::IsMember(models::model_names()))
      ->capture_default_str();
  a->data.add_to(*cmd);
  cmd->add_option("--epochs", a->epochs, "epochs to train (in total, counting resumed ones); 0 writes the initialised parameters "
                                        "as an epoch-0 checkpoint")
      ->check(non_negative_number)
      ->capture_default_str();
  cmd->add_option("--batch", a->batch, "batch size")->check(positive_number)->capture_default_str();
  cmd->add_option("--optimizer", a->optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", a->lr, "learning rate")->check(positive_number)->capture_default_str();
  cmd->add_option("--momentum", a->momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_flag("--nesterov", a->nesterov, "Nesterov momentum (SGD)");
  cmd->add_option("--weight-decay", a->weight_decay, "L2 penalty (decoupled for adamw)")
      ->check(non_negative_number)
      ->capture_default_str();
  cmd->add_option("--schedule", a->schedule, "learning-rate schedule: constant, step or cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--step-size", a->step_size, "step schedule: steps between decays (default: one epoch)")
      ->check(positive_number);
  cmd->add_option("--gamma", a->gamma, "step schedule: decay factor")->check(positive_number)->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "linear warm-up steps")->check(non_negative_number)->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed for initialisation, shuffling and dropout")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda[:N]")->capture_default_str();
  a->sched.add_to(*cmd);
  cmd->add_option("--out", a->out, "directory for the checkpoint, metrics.csv and curves.svg")->capture_default_str();
  cmd->add_option("--save", a->save, "checkpoint path (default: OUT/MODEL.safetensors), rewritten atomically "
                                     "after every epoch");
  cmd->add_option("--resume", a->resume, "continue from a checkpoint written by train")->check(CLI::ExistingFile);
  cmd->add_option("--max-steps", a->max_steps, "stop each epoch after this many steps (quick runs)")
      ->check(non_negative_number);
  cmd->add_flag("--quiet", a->quiet, "no progress bar");
  cmd->add_flag("--check-numerics", a->check_numerics,
                "stop at the first op that produces NaN or Inf, naming it and its source line (runs unfused)");
  return {cmd, [a] { run_train(*a); }};
}

Command add_eval_command(CLI::App& app) {
  struct EvalArgs {
    std::string model;  // empty: the checkpoint's
    DataOptions data;
    std::string load;
    int64_t batch = 1000;
    std::string split = "test";
  };
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a checkpoint: loss, accuracy and confusion matrix");
  cmd->add_option("--model", a->model, "mnist-cnn, lenet5 or mlp (default: the model the checkpoint names)")
      ->check(CLI::IsMember(models::model_names()));
  a->data.add_to(*cmd);
  cmd->add_option("--load", a->load, "checkpoint written by dagrad train")->required()->check(CLI::ExistingFile);
  cmd->add_option("--batch", a->batch, "batch size")->check(positive_number)->capture_default_str();
  cmd->add_option("--split", a->split, "train or test")->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  return {cmd, [a] {
    const std::string model = model_for_checkpoint(a->model, a->load);
    MnistDataset data = a->data.load(a->split);
    TrainConfig cfg;
    cfg.model_name = model;
    cfg.eval_batch_size = a->batch;
    Trainer trainer(models::make_model(model), cfg, std::cout);
    trainer.load_parameters(a->load);
    EvalResult r = trainer.evaluate(data);
    std::cout << std::fixed << std::setprecision(4) << a->split << " loss " << r.loss << ", accuracy "
              << std::setprecision(2) << 100 * r.accuracy << "% on " << r.samples << " images\n";
    print_confusion(r);
  }};
}

}  // namespace dagrad::cli
