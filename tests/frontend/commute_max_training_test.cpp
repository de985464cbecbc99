// Training with relu moved after max pooling (CompileOptions::commute_max, on by default)
// against the graph as written: the same losses and parameters bit for bit, in float32 and
// bfloat16, with a lower planned peak.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "frontend/trainer.h"
#include "models/models.h"
#include "scheduler/plan.h"
#include "scheduler/session.h"
#include "synthetic_data.h"
#include "test_train_config.h"

using namespace dagrad;

namespace {

struct TrainRun {
  std::vector<float> losses;
  TensorMap state;
  size_t peak = 0;
};

TrainRun train(const std::string& model, DType precision, bool commute, const Dataset& data) {
  TrainConfig cfg = dagrad::testing::test_train_config(model);
  cfg.compile.precision = precision;
  cfg.compile.commute_max = commute;
  std::ostringstream log;
  Trainer trainer(models::make_model(model), cfg, log);
  trainer.train_epoch(data, 0);
  TrainRun r;
  r.losses = trainer.step_losses();
  for (const auto& [name, t] : trainer.state()) r.state[name] = t.clone();
  const TensorMap batch{{trainer.names().input, Tensor::zeros(Shape{cfg.batch_size, 1, 28, 28})},
                        {trainer.names().target, Tensor::zeros(Shape{cfg.batch_size}, DType::i64)},
                        {"lr", Tensor::full(Shape{}, 0.01)}};
  r.peak = trainer.train_session().executor_for(batch).plan().arena_bytes;
  return r;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace

class CommuteMaxTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(CommuteMaxTraining, MatchesTheGraphAsWrittenBitForBit) {
  MnistDataset data = dagrad::testing::synthetic_digits(96, 5);  // three steps of 32
  for (DType precision : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(precision));
    const TrainRun written = train(GetParam(), precision, false, data);
    const TrainRun moved = train(GetParam(), precision, true, data);
    EXPECT_LT(moved.peak, written.peak);
    ASSERT_EQ(moved.losses.size(), written.losses.size());
    for (size_t i = 0; i < written.losses.size(); ++i)
      EXPECT_EQ(std::memcmp(&moved.losses[i], &written.losses[i], sizeof(float)), 0) << "step " << i;
    for (const auto& [name, t] : written.state) EXPECT_TRUE(bit_equal(moved.state.at(name), t)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CommuteMaxTraining, ::testing::Values("mnist-cnn", "lenet5"),
                         [](const auto& info) { return info.param == "mnist-cnn" ? "MnistCnn" : "Lenet5"; });
