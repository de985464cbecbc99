// Training and evaluation with max pooling fused into the convolution before it
// (CompileOptions::fuse_conv_pool, on by default) against the two ops: the same losses,
// parameters and evaluation results bit for bit, in float32 and bfloat16, a plan without
// a separate max_pool2d step, and a planned peak no larger (the full-size convolution
// output is never stored; whether that lowers the peak depends on where the peak is).
#include <gtest/gtest.h>

#include <sstream>

#include "ops/builtin_ops.h"
#include "synthetic_data.h"
#include "test_train_config.h"
#include "tests/scheduler/sched_test_util.h"
#include "train_run.h"

using namespace dagrad;
using namespace dagrad::testing;
using dagrad::scheduler::testing::bit_equal;

namespace {

struct FusionRun {
  TrainRun train;
  EvalResult eval;
  int fused_steps = 0, pool_steps = 0;  // steps of the training plan running each op
};

FusionRun run(const std::string& model, DType precision, bool fuse, const Dataset& data) {
  TrainConfig cfg = test_train_config(model);
  cfg.compile.precision = precision;
  cfg.compile.fuse_conv_pool = fuse;
  std::ostringstream log;
  Trainer trainer(models::make_model(cfg.model_name), cfg, log);
  trainer.train_epoch(data, 0);
  FusionRun r;
  r.train = recorded_run(trainer, cfg);
  const scheduler::ExecutionPlan& plan = step_plan(trainer, cfg.batch_size);
  for (const scheduler::Step& s : plan.steps) {
    if (s.nodes.empty()) continue;
    const OpDef* op = plan.graph->node(s.nodes[0]).op;
    r.fused_steps += op == op::conv2d_max_pool2d;
    r.pool_steps += op == op::max_pool2d;
  }
  r.eval = trainer.evaluate(data);
  return r;
}

}  // namespace

class FuseConvPoolTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(FuseConvPoolTraining, EqualsTheTwoOpsBitForBit) {
  MnistDataset data = synthetic_digits(96, 7);  // three steps of 32
  for (DType precision : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(precision));
    const FusionRun apart = run(GetParam(), precision, false, data);
    const FusionRun fused = run(GetParam(), precision, true, data);
    EXPECT_EQ(apart.fused_steps, 0);
    EXPECT_GT(apart.pool_steps, 0);
    EXPECT_EQ(fused.fused_steps, apart.pool_steps) << "every pooling of a convolution fuses";
    EXPECT_EQ(fused.pool_steps, 0);
    EXPECT_LE(fused.train.peak, apart.train.peak);
    EXPECT_EQ(fused.train.losses, apart.train.losses);
    for (const auto& [name, t] : apart.train.state) EXPECT_TRUE(bit_equal(fused.train.state.at(name), t)) << name;
    EXPECT_EQ(fused.eval.loss, apart.eval.loss);
    EXPECT_EQ(fused.eval.score("accuracy"), apart.eval.score("accuracy"));
  }
}

INSTANTIATE_TEST_SUITE_P(Models, FuseConvPoolTraining, ::testing::Values("mnist-cnn", "lenet5"),
                         [](const auto& info) { return info.param == "mnist-cnn" ? "MnistCnn" : "Lenet5"; });
