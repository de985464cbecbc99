// Training the MNIST CNN under a memory budget: the recomputing plan must give the same
// losses and parameters as the plain plan, bit for bit, on one and two streams.
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
using dagrad::testing::test_train_config;

namespace {

struct TrainRun {
  std::vector<float> losses;
  TensorMap state;
  size_t peak = 0;
  size_t recomputed = 0;
};

TrainRun train(const Dataset& data, int streams, size_t budget) {
  TrainConfig cfg = test_train_config("mnist-cnn");
  cfg.compile.num_streams = streams;
  cfg.compile.memory_budget = budget;
  std::ostringstream log;
  Trainer trainer(models::make_model("mnist-cnn"), cfg, log);
  trainer.train_epoch(data, 0);
  TrainRun r;
  r.losses = trainer.step_losses();
  for (const auto& [name, t] : trainer.state()) r.state[name] = t.clone();
  const TensorMap batch{{trainer.names().input, Tensor::zeros(Shape{cfg.batch_size, 1, 28, 28})},
                        {trainer.names().target, Tensor::zeros(Shape{cfg.batch_size}, DType::i64)},
                        {"lr", Tensor::full(Shape{}, 0.01)}};
  const scheduler::ExecutionPlan& plan = trainer.train_session().executor_for(batch).plan();
  r.peak = plan.arena_bytes;
  r.recomputed = plan.recompute.nodes.size();
  return r;
}

// The planned peak of the MNIST CNN's training step, and the number of recomputing nodes.
std::pair<size_t, size_t> planned(int64_t batch_size, size_t budget) {
  TrainConfig cfg = test_train_config("mnist-cnn");
  cfg.batch_size = batch_size;
  cfg.compile.memory_budget = budget;
  std::ostringstream log;
  Trainer trainer(models::make_model("mnist-cnn"), cfg, log);
  const TensorMap batch{{trainer.names().input, Tensor::zeros(Shape{batch_size, 1, 28, 28})},
                        {trainer.names().target, Tensor::zeros(Shape{batch_size}, DType::i64)},
                        {"lr", Tensor::full(Shape{}, 0.01)}};
  const scheduler::ExecutionPlan& plan = trainer.train_session().executor_for(batch).plan();
  return {plan.arena_bytes, plan.recompute.nodes.size()};
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace

TEST(RecomputeTraining, MnistCnnMatchesThePlainPlanBitForBit) {
  MnistDataset data = dagrad::testing::synthetic_digits(96, 5);  // three steps of 32
  for (int streams : {1, 2}) {
    SCOPED_TRACE(str_cat(streams, " streams"));
    TrainRun plain = train(data, streams, 0);
    TrainRun budgeted = train(data, streams, plain.peak * 6 / 10);
    EXPECT_GT(budgeted.recomputed, 0u);
    EXPECT_LT(budgeted.peak, plain.peak);
    ASSERT_EQ(budgeted.losses.size(), plain.losses.size());
    for (size_t i = 0; i < plain.losses.size(); ++i)
      EXPECT_EQ(std::memcmp(&budgeted.losses[i], &plain.losses[i], sizeof(float)), 0) << "step " << i;
    for (const auto& [name, t] : plain.state) EXPECT_TRUE(bit_equal(budgeted.state.at(name), t)) << name;
  }
}

// The bar: at batch 512 the peak comes down by 40%. It takes recomputation that
// chains (the second convolution recomputed from a recomputed first one).
TEST(RecomputeTraining, MnistCnnAtBatch512FitsFortyPercentBelowThePlainPeak) {
  const size_t plain = planned(512, 0).first;
  const auto [peak, recomputed] = planned(512, plain * 6 / 10);
  EXPECT_LE(peak, plain * 6 / 10) << "plain " << plain;
  EXPECT_GE(recomputed, 3u);
}
