// The training program end to end on small synthetic data.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "frontend/checkpoint/safetensors.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/math_mode.h"
#include "synthetic_data.h"
#include "test_train_config.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::testing::test_train_config;

namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("dagrad_train_test_" + std::to_string(::getpid()) + "_" + name);
}

// Resumes `trainer` from `ckpt` (then removed), which must continue after `epochs` epochs
// and `steps` steps, and trains it to its last epoch.
void resume_and_fit(Trainer& trainer, const std::filesystem::path& ckpt, int epochs, uint64_t steps,
                    const Dataset& train, const Dataset& test) {
  trainer.resume(ckpt);
  EXPECT_EQ(trainer.epochs_done(), epochs);
  EXPECT_EQ(trainer.global_step(), steps);
  trainer.fit(train, test);
  std::filesystem::remove(ckpt);
}

}  // namespace

TEST(Trainer, LossGoesDownAndAccuracyUp) {
  MnistDataset train = dagrad::testing::synthetic_digits(480, 1), test = dagrad::testing::synthetic_digits(200, 2);
  std::ostringstream log;
  Trainer trainer(models::lenet5(), test_train_config("lenet5", 4), log);
  double acc_before = trainer.evaluate(test).score("accuracy");
  std::vector<EpochMetrics> rows = trainer.fit(train, test);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_LT(rows.back().train_loss, 0.5 * rows.front().train_loss) << log.str();
  EXPECT_LT(rows.back().test_loss, rows.front().test_loss);
  EXPECT_GT(rows.back().test_score("accuracy"), 0.9) << log.str();
  EXPECT_GT(rows.back().test_score("accuracy"), acc_before + 0.5);
  EvalResult r = trainer.evaluate(test);
  const Tensor& confusion = r.totals.at("confusion");
  ASSERT_EQ(confusion.shape(), (Shape{10, 10}));
  int64_t total = 0, diagonal = 0;
  for (int64_t t = 0; t < 10; ++t)
    for (int64_t p = 0; p < 10; ++p) {
      const int64_t count = confusion.data<int64_t>()[t * 10 + p];
      total += count, diagonal += t == p ? count : 0;
    }
  EXPECT_EQ(total, 200);
  EXPECT_EQ(diagonal, std::llround(r.score("accuracy") * 200));
}

// A CUDA build trains on the CPU without loading cuBLAS: it is opened only when a GPU
// stream first needs it (runtime/cuda/libraries.h), which spares CPU users ~210 MB.
TEST(Trainer, CpuTrainingDoesNotLoadCublas) {
  TrainConfig cfg = test_train_config("mnist-cnn", 1);
  cfg.max_steps_per_epoch = 2;
  std::ostringstream log;
  Trainer trainer(models::mnist_cnn(), cfg, log);
  trainer.train_epoch(dagrad::testing::synthetic_digits(64, 5), 0);
  std::ifstream maps("/proc/self/maps");
  const std::string mapped((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(mapped.empty());
  EXPECT_EQ(mapped.find("libcublas"), std::string::npos);
}

// TrainConfig::tf32 is the process-wide TF32 switch while the trainer runs (--tf32).
TEST(Trainer, SetsTheTf32SwitchFromItsConfig) {
  std::ostringstream log;
  TrainConfig cfg = test_train_config("mlp");
  cfg.tf32 = true;
  { Trainer trainer(models::mlp(), cfg, log); }
  EXPECT_TRUE(tf32_allowed());
  cfg.tf32 = false;
  { Trainer trainer(models::mlp(), cfg, log); }
  EXPECT_FALSE(tf32_allowed());
}

TEST(Trainer, AdamTrainsToo) {
  MnistDataset train = dagrad::testing::synthetic_digits(320, 3), test = dagrad::testing::synthetic_digits(100, 4);
  TrainConfig cfg = test_train_config("mlp", 3);
  cfg.optimizer = "adam";
  cfg.schedule.base_lr = 1e-3;
  std::ostringstream log;
  Trainer trainer(models::mlp(), cfg, log);
  auto rows = trainer.fit(train, test);
  EXPECT_LT(rows.back().train_loss, rows.front().train_loss);
  EXPECT_GT(rows.back().test_score("accuracy"), 0.8) << log.str();
}

// Resuming from a checkpoint written after epoch 1 reproduces the uninterrupted run's
// losses exactly: same data order, same dropout masks, same optimizer state.
TEST(Trainer, ResumeReproducesAnUninterruptedRun) {
  MnistDataset train = dagrad::testing::synthetic_digits(160, 5), test = dagrad::testing::synthetic_digits(40, 6);
  TrainConfig cfg = test_train_config("mnist-cnn", 2);
  cfg.batch_size = 16;
  cfg.max_steps_per_epoch = 4;
  cfg.schedule.base_lr = 0.01;
  std::ostringstream log;

  Trainer full(models::mnist_cnn(), cfg, log);
  std::vector<EpochMetrics> rows = full.fit(train, test);
  ASSERT_EQ(full.step_losses().size(), 8u);
  // Each epoch's row carries its steps' losses (the per-step curve), numbered globally.
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first_step, 1);
  EXPECT_EQ(rows[1].first_step, 5);
  EXPECT_EQ(rows[1].step_losses, std::vector<float>(full.step_losses().begin() + 4, full.step_losses().end()));

  std::filesystem::path ckpt = temp_path("resume.safetensors");
  TrainConfig first = cfg;
  first.epochs = 1;
  Trainer part1(models::mnist_cnn(), first, log);
  part1.fit(train, test);
  part1.save(ckpt);

  Trainer part2(models::mnist_cnn(), cfg, log);
  resume_and_fit(part2, ckpt, /*epochs=*/1, /*steps=*/4, train, test);

  std::vector<float> resumed = part1.step_losses();
  resumed.insert(resumed.end(), part2.step_losses().begin(), part2.step_losses().end());
  EXPECT_EQ(resumed, full.step_losses());
  EXPECT_EQ(part2.state().at("fc2.weight").to_vector<float>(), full.state().at("fc2.weight").to_vector<float>());
}

TEST(Trainer, CheckpointOfAnotherModelIsRefused) {
  std::ostringstream log;
  std::filesystem::path ckpt = temp_path("mlp.safetensors");
  Trainer mlp(models::mlp(), test_train_config("mlp", 1), log);
  mlp.save(ckpt);
  Trainer lenet(models::lenet5(), test_train_config("lenet5", 1), log);
  try {
    lenet.load_parameters(ckpt);
    FAIL() << "expected an error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint is of model 'mlp' but the model is 'lenet5'"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(ckpt);
}

TEST(Trainer, DivergenceStopsWithAClearMessage) {
  MnistDataset train = dagrad::testing::synthetic_digits(64, 7);
  TrainConfig cfg = test_train_config("mlp", 1);
  cfg.schedule.base_lr = 1e30;  // overflows within a few steps
  std::ostringstream log;
  Trainer trainer(models::mlp(), cfg, log);
  try {
    trainer.train_epoch(train, 0);
    FAIL() << "expected DivergedError";
  } catch (const DivergedError& e) {
    EXPECT_NE(std::string(e.what()).find("training diverged: the loss is"), std::string::npos) << e.what();
  }
}

// One step per epoch: the step's loss is measured before its update, so only the test
// loss and the parameter scan after the epoch can see that the update blew up. Nothing
// may be handed to after_epoch (which saves) once that happened.
TEST(Trainer, DivergedEpochIsNeverHandedOnToBeSaved) {
  MnistDataset train = dagrad::testing::synthetic_digits(32, 7), test = dagrad::testing::synthetic_digits(20, 8);
  TrainConfig cfg = test_train_config("mlp", 3);
  cfg.schedule.base_lr = 1e30;
  std::ostringstream log;
  Trainer trainer(models::mlp(), cfg, log);
  int saved = 0;
  std::string message = dagrad::testing::error_of<DivergedError>([&] {
    trainer.fit(train, test, [&](const EpochMetrics&) { ++saved; });
  });
  EXPECT_EQ(saved, 0);
  EXPECT_EQ(trainer.global_step(), 1u) << "caught after the first step's update, not at the next step";
  EXPECT_NE(message.find("training diverged"), std::string::npos) << message;
  EXPECT_NE(message.find("after epoch 1 (step 1)"), std::string::npos) << message;
}

TEST(Trainer, SaveRefusesParametersThatAreNotFinite) {
  std::ostringstream log;
  std::filesystem::path ckpt = temp_path("nan.safetensors");
  Trainer trainer(models::mlp(), test_train_config("mlp", 1), log);
  trainer.save(ckpt);  // a good checkpoint first
  const auto good_size = std::filesystem::file_size(ckpt);
  float before = trainer.state().at("fc2.bias").to_vector<float>()[3];
  trainer.state().at("fc2.bias").data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  std::string message = dagrad::testing::error_of<DivergedError>([&] { trainer.save(ckpt); });
  EXPECT_NE(message.find("'fc2.bias' holds NaN or Inf"), std::string::npos) << message;
  // The good checkpoint is still there, unchanged, with no temp file beside it.
  Trainer reloaded(models::mlp(), test_train_config("mlp", 1), log);
  reloaded.load_parameters(ckpt);
  EXPECT_EQ(reloaded.state().at("fc2.bias").to_vector<float>()[3], before);
  EXPECT_EQ(std::filesystem::file_size(ckpt), good_size);
  EXPECT_FALSE(std::filesystem::exists(ckpt.string() + ".tmp"));
  std::filesystem::remove(ckpt);
}

// `dagrad train --epochs 0` saves the initialised state; resuming from it is the same run.
TEST(Trainer, EpochZeroCheckpointStartsTheSameRun) {
  MnistDataset train = dagrad::testing::synthetic_digits(96, 9), test = dagrad::testing::synthetic_digits(20, 10);
  TrainConfig cfg = test_train_config("lenet5", 1);
  std::ostringstream log;
  Trainer fresh(models::lenet5(), cfg, log);
  fresh.fit(train, test);

  std::filesystem::path ckpt = temp_path("initial.safetensors");
  Trainer(models::lenet5(), cfg, log).save(ckpt);
  Trainer resumed(models::lenet5(), cfg, log);
  resume_and_fit(resumed, ckpt, /*epochs=*/0, /*steps=*/0, train, test);
  ASSERT_EQ(resumed.step_losses().size(), 3u);
  EXPECT_EQ(resumed.step_losses(), fresh.step_losses());
}

TEST(Trainer, CheckpointNamesItsModel) {
  std::ostringstream log;
  std::filesystem::path ckpt = temp_path("named.safetensors");
  Trainer(models::lenet5(), test_train_config("lenet5", 1), log).save(ckpt);
  EXPECT_EQ(checkpoint_model_name(ckpt), "lenet5");
  save_safetensors(ckpt, {{"w", Tensor::zeros(Shape{2})}}, {{"format", "pt"}});  // from elsewhere
  EXPECT_NE(dagrad::testing::error_of<ValueError>([&] { checkpoint_model_name(ckpt); })
                .find("the checkpoint does not name its model (no 'model' in its metadata); pass --model"),
            std::string::npos);
  std::filesystem::remove(ckpt);
}

TEST(Trainer, ResumeRefusesMetadataThatIsNotACount) {
  std::ostringstream log;
  std::filesystem::path ckpt = temp_path("bad-epoch.safetensors");
  Trainer(models::mlp(), test_train_config("mlp", 1), log).save(ckpt);
  Checkpoint ck = load_safetensors(ckpt);
  ck.metadata["epoch"] = "1e3";
  save_safetensors(ckpt, ck.tensors, ck.metadata);
  Trainer trainer(models::mlp(), test_train_config("mlp", 2), log);
  EXPECT_NE(dagrad::testing::error_of<ValueError>([&] { trainer.resume(ckpt); })
                .find("checkpoint metadata 'epoch' is '1e3', not a count"),
            std::string::npos);
  std::filesystem::remove(ckpt);
}
