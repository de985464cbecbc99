// Training with relu moved after max pooling (CompileOptions::commute_max, on by default)
// against the graph as written: the same losses and parameters bit for bit, in float32 and
// bfloat16, with a lower planned peak.
#include <gtest/gtest.h>

#include <cstring>

#include "synthetic_data.h"
#include "test_train_config.h"
#include "tests/scheduler/sched_test_util.h"
#include "train_run.h"

using namespace dagrad;
using namespace dagrad::testing;
using dagrad::scheduler::testing::bit_equal;

namespace {

TrainRun train(const std::string& model, DType precision, bool commute, const Dataset& data) {
  TrainConfig cfg = test_train_config(model);
  cfg.compile.precision = precision;
  cfg.compile.commute_max = commute;
  return train_run(cfg, data);
}

}  // namespace

class CommuteMaxTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(CommuteMaxTraining, MatchesTheGraphAsWrittenBitForBit) {
  MnistDataset data = synthetic_digits(96, 5);  // three steps of 32
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
