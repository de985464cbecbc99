// `dagrad train`'s options reach the TrainConfig through one function, train_config():
// the command line below is parsed by the same flags the command registers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "apps/train_args.h"
#include "runtime/error.h"
#include "tests/error_of.h"

using namespace dagrad;
using namespace dagrad::cli;

namespace {

// The TrainArgs that `dagrad train ARGS...` parses.
TrainArgs parse_train(std::vector<std::string> args) {
  CLI::App app;
  TrainArgs a;
  a.add_to(app);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
  app.parse(args);
  return a;
}

}  // namespace

TEST(TrainConfig, Defaults) {
  const TrainConfig cfg = train_config(parse_train({}));
  EXPECT_EQ(cfg.model_name, "mnist-cnn");
  EXPECT_EQ(cfg.epochs, 5);
  EXPECT_EQ(cfg.batch_size, 64);
  EXPECT_EQ(cfg.optimizer, "sgd");
  EXPECT_EQ(cfg.momentum, 0.9);
  EXPECT_EQ(cfg.weight_decay, 0);
  EXPECT_FALSE(cfg.nesterov);
  EXPECT_EQ(cfg.schedule.kind, optim::LrSchedule::Kind::constant);
  EXPECT_EQ(cfg.schedule.base_lr, 0.01);
  EXPECT_EQ(cfg.schedule.step_size, optim::LrSchedule::kEpoch);  // StepLR's step: one epoch
  EXPECT_EQ(cfg.schedule.total_steps, optim::LrSchedule::kRun);  // cosine: over the whole run
  EXPECT_EQ(cfg.schedule.gamma, 0.7);
  EXPECT_EQ(cfg.schedule.warmup_steps, 0);
  EXPECT_EQ(cfg.seed, 1u);
  EXPECT_TRUE(cfg.device.is_cpu());
  EXPECT_EQ(cfg.max_steps_per_epoch, -1);
  EXPECT_TRUE(cfg.progress);
  EXPECT_FALSE(cfg.check_numerics);
  EXPECT_EQ(cfg.stop_requested, nullptr);
  EXPECT_EQ(cfg.compile.num_streams, 1);
  EXPECT_TRUE(cfg.compile.fuse);
  EXPECT_TRUE(cfg.compile.plan_memory);
  EXPECT_EQ(cfg.compile.precision, DType::f32);
  EXPECT_FALSE(cfg.tf32);
  EXPECT_EQ(cfg.bucket_mb, 1.0);
  EXPECT_FALSE(cfg.allreduce_in_one_process);
}

TEST(TrainConfig, EveryFlagReachesItsField) {
  std::atomic<bool> stop{false};
  const TrainConfig cfg = train_config(
      parse_train({"--model", "lenet5", "--epochs", "7", "--batch", "32", "--optimizer", "adamw", "--lr", "0.003",
                   "--momentum", "0.5", "--nesterov", "--weight-decay", "0.01", "--schedule", "step", "--step-size",
                   "100", "--gamma", "0.25", "--warmup", "12", "--seed", "42", "--device", "cpu", "--streams", "2",
                   "--no-fusion", "--no-memory-plan", "--bucket-mb", "4", "--allreduce", "--max-steps", "9",
                   "--quiet", "--check-numerics", "--precision", "bf16", "--tf32"}),
      &stop);
  EXPECT_EQ(cfg.model_name, "lenet5");
  EXPECT_EQ(cfg.epochs, 7);
  EXPECT_EQ(cfg.batch_size, 32);
  EXPECT_EQ(cfg.optimizer, "adamw");
  EXPECT_EQ(cfg.momentum, 0.5);
  EXPECT_TRUE(cfg.nesterov);
  EXPECT_EQ(cfg.weight_decay, 0.01);
  EXPECT_EQ(cfg.schedule.kind, optim::LrSchedule::Kind::step);
  EXPECT_EQ(cfg.schedule.base_lr, 0.003);
  EXPECT_EQ(cfg.schedule.step_size, 100);
  EXPECT_EQ(cfg.schedule.gamma, 0.25);
  EXPECT_EQ(cfg.schedule.warmup_steps, 12);
  EXPECT_EQ(cfg.seed, 42u);
  EXPECT_EQ(cfg.compile.num_streams, 2);
  EXPECT_FALSE(cfg.compile.fuse);
  EXPECT_FALSE(cfg.compile.plan_memory);
  EXPECT_EQ(cfg.compile.precision, DType::bf16);
  EXPECT_TRUE(cfg.tf32);
  EXPECT_EQ(cfg.bucket_mb, 4.0);
  EXPECT_TRUE(cfg.allreduce_in_one_process);
  EXPECT_EQ(cfg.max_steps_per_epoch, 9);
  EXPECT_FALSE(cfg.progress);
  EXPECT_TRUE(cfg.check_numerics);
  EXPECT_EQ(cfg.stop_requested, &stop);
}

// --step-size counts steps, whatever the number: only leaving it out means one epoch.
TEST(TrainConfig, StepSizeOneIsOneStep) {
  EXPECT_EQ(train_config(parse_train({"--schedule", "step", "--step-size", "1"})).schedule.step_size, 1);
  EXPECT_EQ(train_config(parse_train({"--schedule", "cosine"})).schedule.kind, optim::LrSchedule::Kind::cosine);
}

TEST(TrainConfig, AnUnknownDeviceIsAnErrorNamingIt) {
  TrainArgs a = parse_train({"--device", "tpu"});
  EXPECT_NE(dagrad::testing::error_of<Error>([&] { train_config(a); }).find("tpu"), std::string::npos);
}

// Flags left out take the model's recipe (models::default_recipe): mnist-vit trains with
// AdamW and a one-cycle schedule; a flag given replaces only its own field.
TEST(TrainConfig, UnsetFlagsTakeTheModelsRecipe) {
  const TrainConfig vit = train_config(parse_train({"--model", "mnist-vit"}));
  EXPECT_EQ(vit.optimizer, "adamw");
  EXPECT_EQ(vit.schedule.base_lr, 5e-3);
  EXPECT_EQ(vit.weight_decay, 0.1);
  EXPECT_EQ(vit.schedule.kind, optim::LrSchedule::Kind::onecycle);
  EXPECT_EQ(vit.epochs, 10);
  EXPECT_EQ(vit.schedule.total_steps, optim::LrSchedule::kRun);  // the cycle spans the run

  const TrainConfig mixed =
      train_config(parse_train({"--model", "mnist-vit", "--lr", "0.001", "--epochs", "2", "--schedule", "cosine"}));
  EXPECT_EQ(mixed.optimizer, "adamw");
  EXPECT_EQ(mixed.weight_decay, 0.1);
  EXPECT_EQ(mixed.schedule.base_lr, 0.001);
  EXPECT_EQ(mixed.epochs, 2);
  EXPECT_EQ(mixed.schedule.kind, optim::LrSchedule::Kind::cosine);

  // Setting a recipe field explicitly to the default of another model still counts as given.
  const TrainConfig sgd =
      train_config(parse_train({"--model", "mnist-vit", "--optimizer", "sgd", "--weight-decay", "0"}));
  EXPECT_EQ(sgd.optimizer, "sgd");
  EXPECT_EQ(sgd.weight_decay, 0);
}

TEST(TrainConfig, PrecisionIsCheckedByTheFlag) {
  EXPECT_EQ(train_config(parse_train({"--precision", "f32"})).compile.precision, DType::f32);
  EXPECT_THROW(parse_train({"--precision", "f16"}), CLI::ValidationError);
}
