// A model defined and exported with PyTorch (scripts/export_pytorch_lenet5.py, the file
// checked in under data/) trains through the Trainer like a built-in model: its first SGD
// step equals the built-in lenet5's from the same weights, and it learns.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "frontend/onnx/module.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "synthetic_data.h"

using namespace dagrad;

namespace {

const std::string kLenet5 = DAGRAD_ONNX_TEST_DATA "/lenet5_pytorch.onnx";

TrainConfig one_step_config() {
  TrainConfig cfg;
  cfg.epochs = 1;
  cfg.batch_size = 32;
  cfg.max_steps_per_epoch = 1;
  cfg.progress = false;
  cfg.schedule.base_lr = 0.05;
  return cfg;
}

}  // namespace

TEST(OnnxTraining, PyTorchLenet5IsAModuleWithTheFilesParameters) {
  auto m = onnx::OnnxModule::load(kLenet5);
  EXPECT_TRUE(m->outputs_log_probabilities());
  EXPECT_EQ(nn::count_parameters(*m), nn::count_parameters(*models::lenet5()));
  const TensorMap init = nn::init_parameters(*m, 123);  // the file's values, whatever the seed
  EXPECT_EQ(init.at("fc3.bias").to_vector<float>(), m->model().initializers().at("fc3.bias").to_vector<float>());
}

TEST(OnnxTraining, FirstSgdStepMatchesTheBuiltInModel) {
  const MnistDataset data = dagrad::testing::synthetic_digits(64, 5);
  std::ostringstream log;
  Trainer imported(onnx::OnnxModule::load(kLenet5), one_step_config(), log);
  Trainer builtin(models::lenet5(), one_step_config(), log);
  for (auto& [name, t] : builtin.state()) t.copy_from(imported.state().at(name));  // the same start
  imported.train_epoch(data, 0);
  builtin.train_epoch(data, 0);
  ASSERT_EQ(imported.step_losses().size(), 1u);
  EXPECT_NEAR(imported.step_losses()[0], builtin.step_losses()[0], 1e-5);
  for (auto& [name, t] : builtin.state()) {
    const std::vector<float> a = imported.state().at(name).to_vector<float>(), b = t.to_vector<float>();
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
    EXPECT_LT(worst, 1e-5) << name;
  }
}

TEST(OnnxTraining, ItLearns) {
  const MnistDataset train = dagrad::testing::synthetic_digits(512, 1), test = dagrad::testing::synthetic_digits(256, 2);
  TrainConfig cfg = one_step_config();
  cfg.epochs = 3;
  cfg.max_steps_per_epoch = -1;
  std::ostringstream log;
  Trainer t(onnx::OnnxModule::load(kLenet5), cfg, log);
  const std::vector<EpochMetrics> m = t.fit(train, test);
  EXPECT_GT(m.back().test_score("accuracy"), 0.9) << log.str();
}
