// A whole epoch's loss curve does not depend on the optimisations: the same seed gives
// the same per-step losses (to float tolerance) with the optimised configuration (fusion
// with epilogues, the memory plan with in-place reuse, two streams, dagrad's GEMM engine,
// direct convolutions, the vectorised 2x2 max-pool) and with the plain one (no fusion,
// every buffer its own, one stream in program order, im2col + OpenBLAS convolutions,
// the generic pooling loop).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/cpu/reference_kernels.h"
#include "runtime/thread_pool.h"
#include "synthetic_data.h"
#include "test_train_config.h"

using namespace dagrad;

namespace {

std::vector<float> epoch_losses(const MnistDataset& data, bool optimised, DType precision = DType::f32) {
  TrainConfig cfg = dagrad::testing::test_train_config("mnist-cnn");
  cfg.batch_size = 16;
  cfg.seed = 11;
  cfg.schedule.base_lr = 0.01;
  scheduler::CompileOptions& c = cfg.compile;
  c.precision = precision;
  if (optimised) {
    c.num_streams = 2;
  } else {
    c.fuse = c.fuse_epilogues = false;
    c.plan_memory = c.inplace = false;
    c.reorder_for_memory = false;
    c.num_streams = 1;
  }
  struct KernelSwitch {  // back to the fast kernels however the epoch ends
    explicit KernelSwitch(bool reference) { set_reference_kernels(reference); }
    ~KernelSwitch() { set_reference_kernels(false); }
  } kernels(!optimised);
  std::ostringstream log;
  Trainer trainer(models::mnist_cnn(), cfg, log);
  trainer.train_epoch(data, 0);
  return trainer.step_losses();
}

}  // namespace

TEST(LossCurve, OptimisedEqualsPlainOverAnEpoch) {
  set_num_threads(2);
  MnistDataset data = dagrad::testing::synthetic_digits(480, 21);  // 30 steps of 16
  std::vector<float> fast = epoch_losses(data, true);
  std::vector<float> plain = epoch_losses(data, false);
  ASSERT_EQ(fast.size(), 30u);
  ASSERT_EQ(plain.size(), fast.size());
  double worst = 0;  // the largest relative difference, reported with the result
  for (size_t i = 0; i < fast.size(); ++i) {
    ASSERT_TRUE(std::isfinite(fast[i]) && std::isfinite(plain[i])) << "step " << i;
    EXPECT_NEAR(fast[i], plain[i], 1e-4 * std::max(std::abs(plain[i]), 1.0f)) << "step " << i;
    worst = std::max(worst, std::abs(static_cast<double>(fast[i]) - plain[i]) / std::max(std::abs(plain[i]), 1.0f));
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.2e", worst);
  RecordProperty("max_relative_difference", text);
  // The curve is a real one: it moves from step to step and training makes progress,
  // so equal curves are not equal by being constant.
  int moves = 0;
  for (size_t i = 1; i < fast.size(); ++i) moves += std::abs(fast[i] - fast[i - 1]) > 1e-3f;
  EXPECT_GE(moves, 20);
  float head = (fast[0] + fast[1] + fast[2]) / 3, tail = (fast[27] + fast[28] + fast[29]) / 3;
  EXPECT_LT(tail, 0.8f * head);
  // The two configurations really ran different code: their sums are ordered
  // differently, so some loss differs in its last bits.
  bool any_bit_differs = false;
  for (size_t i = 0; i < fast.size(); ++i) any_bit_differs = any_bit_differs || fast[i] != plain[i];
  EXPECT_TRUE(any_bit_differs);
}

// Mixed precision (bfloat16 GEMM and convolution operands, float32 everywhere else) against
// float32, same seed, same epoch. The tolerance: at step 0 the parameters are equal and
// only the forward products are rounded (operands to 8 significant bits, 2^-9 relative
// each; the loss moves by far less than that relative error of the logits), so the losses
// agree to 0.2%. From then on the two runs follow different trajectories, each step's
// gradients carrying 2^-8-sized rounding that later steps compound (the float32 curve alone
// turns last-bit differences into 1e-4 by step 30, see above); training on bfloat16 products
// is useful only if that drift stays a small fraction of the loss: 5% at any step and 2%
// on average over the epoch (measured: 1.2% at worst, at the last step, 0.2% on average).
TEST(LossCurve, BFloat16StaysCloseToFloat32) {
  set_num_threads(2);
  MnistDataset data = dagrad::testing::synthetic_digits(480, 21);
  std::vector<float> f32 = epoch_losses(data, true);
  std::vector<float> bf16 = epoch_losses(data, true, DType::bf16);
  ASSERT_EQ(bf16.size(), f32.size());
  auto rel = [&](size_t i) { return std::abs(static_cast<double>(bf16[i]) - f32[i]) / std::max(std::abs(f32[i]), 1.0f); };
  EXPECT_LT(rel(0), 2e-3);
  double worst = 0, sum = 0;
  for (size_t i = 0; i < f32.size(); ++i) {
    ASSERT_TRUE(std::isfinite(bf16[i])) << "step " << i;
    EXPECT_LT(rel(i), 0.05) << "step " << i << ": " << bf16[i] << " vs " << f32[i];
    worst = std::max(worst, rel(i));
    sum += rel(i);
  }
  EXPECT_LT(sum / static_cast<double>(f32.size()), 0.02);
  char text[32];
  std::snprintf(text, sizeof text, "%.2e", worst);
  RecordProperty("max_relative_difference", text);
  // It trains, and it is not float32 in disguise: some losses differ.
  EXPECT_LT((bf16[27] + bf16[28] + bf16[29]) / 3, 0.8f * (bf16[0] + bf16[1] + bf16[2]) / 3);
  int differ = 0;
  for (size_t i = 0; i < f32.size(); ++i) differ += bf16[i] != f32[i];
  EXPECT_GE(differ, 20);
}
