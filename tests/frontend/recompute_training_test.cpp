// Training the MNIST CNN and the ViT under a memory budget: the recomputing plan must
// give the same losses and parameters as the plain plan, bit for bit, on one and two
// streams.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "synthetic_data.h"
#include "test_train_config.h"
#include "tests/scheduler/sched_test_util.h"
#include "train_run.h"

using namespace dagrad;
using namespace dagrad::testing;
using dagrad::scheduler::testing::bit_equal;

namespace {

TrainRun train(const std::string& model, const Dataset& data, int streams, size_t budget) {
  TrainConfig cfg = test_train_config(model);
  cfg.compile.num_streams = streams;
  cfg.compile.memory_budget = budget;
  return train_run(cfg, data);
}

// The planned peak of a model's training step, and the number of recomputing nodes.
std::pair<size_t, size_t> planned(const std::string& model, int64_t batch_size, size_t budget,
                                  bool commute_max = true) {
  TrainConfig cfg = test_train_config(model);
  cfg.batch_size = batch_size;
  cfg.compile.memory_budget = budget;
  cfg.compile.commute_max = commute_max;
  std::ostringstream log;
  Trainer trainer(models::make_model(model), cfg, log);
  const scheduler::ExecutionPlan& plan = step_plan(trainer, batch_size);
  return {plan.arena_bytes, plan.recompute.nodes.size()};
}

}  // namespace

class RecomputeTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(RecomputeTraining, MatchesThePlainPlanBitForBit) {
  MnistDataset data = dagrad::testing::synthetic_digits(96, 5);  // three steps of 32
  for (int streams : {1, 2}) {
    SCOPED_TRACE(str_cat(streams, " streams"));
    TrainRun plain = train(GetParam(), data, streams, 0);
    TrainRun budgeted = train(GetParam(), data, streams, plain.peak * 6 / 10);
    EXPECT_GT(budgeted.recomputed, 0u);
    EXPECT_LT(budgeted.peak, plain.peak);
    ASSERT_EQ(budgeted.losses.size(), plain.losses.size());
    for (size_t i = 0; i < plain.losses.size(); ++i)
      EXPECT_EQ(std::memcmp(&budgeted.losses[i], &plain.losses[i], sizeof(float)), 0) << "step " << i;
    for (const auto& [name, t] : plain.state) EXPECT_TRUE(bit_equal(budgeted.state.at(name), t)) << name;
  }
}

// The bar: at batch 512 the peak comes down by 40%. It takes recomputation that
// chains (the ViT's first attention input recomputed from the images, through the patch
// embedding). The CNN met it too (323 MiB -> 60%) until relu's gradient began reading
// relu's output: its plain peak fell to 204 MiB, and what is left across the peak is read
// by the peak step itself, so recomputing conv1's activation lowers it by about 9% more.
// That is checked on the graph as written (commute_max off); with relu moved after max
// pooling (the default) conv2's activation is gone before the backward pass, and the
// plain plan alone is below that budget, with nothing left that recomputing would lower.
TEST_P(RecomputeTraining, AtBatch512FitsItsBudget) {
  const bool cnn = GetParam() == "mnist-cnn";
  const size_t plain = planned(GetParam(), 512, 0, !cnn).first;
  const size_t budget = cnn ? plain * 92 / 100 : plain * 6 / 10;
  const auto [peak, recomputed] = planned(GetParam(), 512, budget, !cnn);
  EXPECT_LE(peak, budget) << "plain " << plain;
  EXPECT_GE(recomputed, cnn ? 2u : 3u);
  if (cnn) {
    EXPECT_LE(planned(GetParam(), 512, 0).first, budget);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, RecomputeTraining, ::testing::Values("mnist-cnn", "mnist-vit"),
                         [](const auto& info) { return info.param == "mnist-cnn" ? "MnistCnn" : "MnistVit"; });
