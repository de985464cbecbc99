// Optimizer updates against values worked out by hand, and learning-rate schedules.
#include <gtest/gtest.h>

#include "frontend/optim.h"
#include "ops/interpreter.h"

using namespace dagrad;

namespace {

// One parameter p = [1, -2] with gradient g = [0.5, 0.25], updated `steps` times.
std::vector<float> run_steps(const optim::Optimizer& opt, int steps, double lr) {
  Graph g;
  Value p = g.parameter("p", Shape{2});
  Value grad = g.input("g", Shape{2});
  Value lr_in = g.input("lr", Shape{});
  std::vector<Value> params{p}, grads{grad};
  opt.add_updates(g, params, grads, lr_in);
  TensorMap bind{{"p", Tensor::from_vector<float>(Shape{2}, {1.0f, -2.0f})},
                 {"g", Tensor::from_vector<float>(Shape{2}, {0.5f, 0.25f})},
                 {"lr", Tensor::full(Shape{}, lr)}};
  for (const nn::ParamSpec& s : opt.state_specs("p", Shape{2})) bind[s.name] = Tensor::zeros(s.shape);
  for (int i = 0; i < steps; ++i) interpret(g, std::vector<Value>{}, bind);
  return bind.at("p").to_vector<float>();
}

}  // namespace

TEST(Optimizers, SgdMomentumByHand) {
  optim::Sgd sgd(SgdOptions{.momentum = 0.9});
  // step 1: buf = g = 0.5, p = 1 - 0.1*0.5 = 0.95; step 2: buf = 0.9*0.5+0.5 = 0.95, p = 0.95 - 0.095.
  std::vector<float> one = run_steps(sgd, 1, 0.1), two = run_steps(sgd, 2, 0.1);
  EXPECT_FLOAT_EQ(one[0], 0.95f);
  EXPECT_FLOAT_EQ(one[1], -2.025f);
  EXPECT_FLOAT_EQ(two[0], 0.855f);
  EXPECT_FLOAT_EQ(two[1], -2.025f - 0.1f * 0.475f);
}

TEST(Optimizers, SgdNesterovAndWeightDecayByHand) {
  optim::Sgd sgd(SgdOptions{.momentum = 0.9, .weight_decay = 0.1, .nesterov = true});
  // g' = 0.5 + 0.1*1 = 0.6; buf = 0.6; update = g' + 0.9*buf = 1.14; p = 1 - 0.1*1.14.
  EXPECT_FLOAT_EQ(run_steps(sgd, 1, 0.1)[0], 0.886f);
}

TEST(Optimizers, AdamFirstStepMovesByLr) {
  // With bias correction the first Adam step is lr * g/|g| (up to eps).
  optim::Adam adam;
  std::vector<float> p = run_steps(adam, 1, 0.1);
  EXPECT_NEAR(p[0], 0.9f, 1e-6);
  EXPECT_NEAR(p[1], -2.1f, 1e-6);
  // AdamW decays the weight first: p = 1*(1 - 0.1*0.5) - 0.1.
  optim::Adam adamw(AdamOptions{.weight_decay = 0.5, .decoupled_weight_decay = true});
  EXPECT_NEAR(run_steps(adamw, 1, 0.1)[0], 0.85f, 1e-6);
}

TEST(Optimizers, StateIsNamedLikePyTorch) {
  EXPECT_EQ(optim::Sgd(SgdOptions{.momentum = 0.9}).state_specs("fc1.weight", Shape{2})[0].name,
            "fc1.weight.momentum_buffer");
  EXPECT_TRUE(optim::Sgd().state_specs("w", Shape{2}).empty());
  auto adam = optim::Adam().state_specs("w", Shape{3});
  ASSERT_EQ(adam.size(), 3u);
  EXPECT_EQ(adam[0].name, "w.exp_avg");
  EXPECT_EQ(adam[1].name, "w.exp_avg_sq");
  EXPECT_EQ(adam[2].name, "w.step");
  EXPECT_THROW(optim::make_optimizer("rmsprop", 0, 0), ValueError);
}

TEST(LrSchedule, ConstantStepCosineWarmup) {
  optim::LrSchedule s;
  s.base_lr = 0.1;
  EXPECT_DOUBLE_EQ(s.at(1000), 0.1);
  s.kind = optim::LrSchedule::Kind::step;
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.at(9), 0.1);
  EXPECT_DOUBLE_EQ(s.at(10), 0.05);
  EXPECT_DOUBLE_EQ(s.at(25), 0.025);
  s.kind = optim::LrSchedule::Kind::cosine;
  s.total_steps = 100;
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_NEAR(s.at(50), 0.05, 1e-12);
  EXPECT_NEAR(s.at(100), 0.0, 1e-12);
  s.warmup_steps = 4;
  EXPECT_NEAR(s.at(0), 0.025, 1e-12);
  EXPECT_NEAR(s.at(3), 0.1 * std::cos(0.0) * 0.5 * (1 + std::cos(3.14159265358979 * 0.03)), 1e-6);
  EXPECT_THROW(optim::LrSchedule::parse_kind("linear"), ValueError);
}

// The Trainer resolves the per-epoch lengths once it knows an epoch's steps.
TEST(LrSchedule, PerEpochLengthsResolveForARun) {
  optim::LrSchedule s;
  s.kind = optim::LrSchedule::Kind::step;
  s.base_lr = 0.1;
  s.gamma = 0.5;
  s.step_size = optim::LrSchedule::kEpoch;
  s.total_steps = optim::LrSchedule::kRun;
  const optim::LrSchedule run = s.for_run(/*steps_per_epoch=*/30, /*epochs=*/4);
  EXPECT_EQ(run.step_size, 30);
  EXPECT_EQ(run.total_steps, 120);
  EXPECT_DOUBLE_EQ(run.at(29), 0.1);
  EXPECT_DOUBLE_EQ(run.at(30), 0.05);
  // Lengths given in steps stay as they are.
  s.step_size = 7;
  s.total_steps = 50;
  EXPECT_EQ(s.for_run(30, 4).step_size, 7);
  EXPECT_EQ(s.for_run(30, 4).total_steps, 50);
}
