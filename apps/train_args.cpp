#include "apps/train_args.h"

#include <iostream>

#include "models/models.h"

namespace dagrad::cli {

void TrainArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--model", model, model_help())
      ->check(model_name)
      ->capture_default_str();
  data.add_to(cmd);
  cmd.add_option("--epochs", epochs, "epochs to train (in total, counting resumed ones); 0 writes the initialised "
                                     "parameters as an epoch-0 checkpoint (default: the model's recipe, 5; 10 for "
                                     "mnist-vit)")
      ->check(non_negative_number);
  cmd.add_option("--batch", batch, "batch size")->check(positive_number)->capture_default_str();
  cmd.add_option("--optimizer", optimizer, "sgd, adam or adamw (default: the model's recipe, sgd; adamw for mnist-vit)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  cmd.add_option("--lr", lr, "learning rate, the peak of a onecycle schedule (default: the model's recipe, 0.01; "
                             "0.005 for mnist-vit)")
      ->check(positive_number);
  cmd.add_option("--momentum", momentum, "SGD momentum (default: 0.9)")->check(CLI::Range(0.0, 1.0));
  cmd.add_flag("--nesterov", nesterov, "Nesterov momentum (SGD)");
  cmd.add_option("--weight-decay", weight_decay, "L2 penalty (decoupled for adamw) (default: the model's recipe, 0; "
                                                 "0.1 for mnist-vit)")
      ->check(non_negative_number);
  cmd.add_option("--schedule", schedule,
                 "learning-rate schedule: constant, step, cosine or onecycle (PyTorch's OneCycleLR: a cosine rise "
                 "from lr/25 over the first 30% of the steps, then a cosine fall to lr/250000) (default: the model's "
                 "recipe, constant; onecycle for mnist-vit)")
      ->check(CLI::IsMember({"constant", "step", "cosine", "onecycle"}));
  cmd.add_option("--step-size", step_size, "step schedule: steps between decays (default: one epoch)")
      ->check(positive_number);
  cmd.add_option("--gamma", gamma, "step schedule: decay factor")->check(positive_number)->capture_default_str();
  cmd.add_option("--warmup", warmup, "linear warm-up steps (default: 0)")->check(non_negative_number);
  cmd.add_option("--seed", seed, "seed for initialisation, shuffling and dropout")->capture_default_str();
  cmd.add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
  sched.add_to(cmd);
  cmd.add_option("--out", out, "directory for the checkpoint, metrics.csv and curves.svg")->capture_default_str();
  cmd.add_option("--save", save, "checkpoint path (default: OUT/MODEL.safetensors), rewritten atomically "
                                 "after every epoch");
  cmd.add_option("--resume", resume, "continue from a checkpoint written by train")->check(CLI::ExistingFile);
  cmd.add_option("--max-steps", max_steps, "stop each epoch after this many steps (quick runs)")
      ->check(non_negative_number);
  cmd.add_flag("--quiet", quiet, "no progress bar");
  cmd.add_option("--loss", loss,
                 "classification loss: nll (on log-probabilities), cross-entropy (softmax cross-entropy on "
                 "logits), or auto: nll for the built-in models and ONNX models ending in LogSoftmax, "
                 "cross-entropy for other ONNX models")
      ->check(CLI::IsMember({"auto", "nll", "cross-entropy"}))
      ->capture_default_str();
  cmd.add_flag("--check-numerics", check_numerics,
               "stop at the first op that produces NaN or Inf, naming it and its source line (runs unfused)");
}

models::Recipe recipe(const TrainArgs& a) {
  models::Recipe r = models::default_recipe(a.model);
  if (a.optimizer) r.optimizer = *a.optimizer;
  if (a.lr) r.lr = *a.lr;
  if (a.momentum) r.momentum = *a.momentum;
  if (a.weight_decay) r.weight_decay = *a.weight_decay;
  if (a.schedule) r.schedule = *a.schedule;
  if (a.warmup) r.warmup_steps = *a.warmup;
  if (a.epochs) r.epochs = *a.epochs;
  return r;
}

TrainConfig train_config(const TrainArgs& a, const std::atomic<bool>* stop_requested) {
  const models::Recipe r = recipe(a);
  TrainConfig cfg;
  cfg.model_name = a.model;
  cfg.epochs = r.epochs;
  cfg.batch_size = a.batch;
  cfg.optimizer = r.optimizer;
  cfg.momentum = r.momentum;
  cfg.weight_decay = r.weight_decay;
  cfg.nesterov = a.nesterov;
  cfg.schedule.kind = optim::LrSchedule::parse_kind(r.schedule);
  cfg.schedule.base_lr = r.lr;
  cfg.schedule.step_size = a.step_size;
  cfg.schedule.gamma = a.gamma;
  cfg.schedule.total_steps = optim::LrSchedule::kRun;
  cfg.schedule.warmup_steps = r.warmup_steps;
  cfg.seed = a.seed;
  cfg.compile = a.sched.compile_options();
  cfg.tf32 = a.sched.tf32;
  cfg.device = check_device(a.device);
  cfg.max_steps_per_epoch = a.max_steps;
  cfg.progress = !a.quiet;
  cfg.check_numerics = a.check_numerics;
  cfg.stop_requested = stop_requested;
  cfg.bucket_mb = a.sched.bucket_mb;
  cfg.allreduce_in_one_process = a.sched.allreduce;
  const bool log_probs = a.loss == "auto" ? models::outputs_log_probabilities(a.model) : a.loss == "nll";
  cfg.objective = classification(log_probs ? ClassScores::log_probabilities : ClassScores::logits);
  return cfg;
}

void CheckpointArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--model", model, model_help() + " (default: the model the checkpoint names)")
      ->check(model_name);
  data.add_to(cmd);
  cmd.add_option("--load", load, "checkpoint written by dagrad train")->required()->check(CLI::ExistingFile);
}

std::unique_ptr<Trainer> CheckpointArgs::load_trainer(int64_t eval_batch) const {
  TrainArgs args;
  args.model = model_for_checkpoint(model, load);
  TrainConfig cfg = train_config(args);
  cfg.eval_batch_size = eval_batch;
  auto trainer = std::make_unique<Trainer>(models::load_model(args.model), cfg, std::cout);
  trainer->load_parameters(load);
  return trainer;
}

}  // namespace dagrad::cli
