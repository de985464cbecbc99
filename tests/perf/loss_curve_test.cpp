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

std::vector<float> epoch_losses(const MnistDataset& data, bool optimised) {
  TrainConfig cfg = dagrad::testing::test_train_config("mnist-cnn");
  cfg.batch_size = 16;
  cfg.seed = 11;
  cfg.schedule.base_lr = 0.01;
  scheduler::CompileOptions& c = cfg.compile;
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
