// Training with the bias gradients summed before max pooling's scatter
// (CompileOptions::sum_before_scatter, on by default) against the graph as autograd wrote
// it: the same losses and parameters up to float32 rounding (the same sums, added in
// another order), in float32 and bfloat16; with bfloat16 the scatter then writes 16-bit
// values and the planned peak is lower.
#include <gtest/gtest.h>

#include <cmath>

#include "synthetic_data.h"
#include "test_train_config.h"
#include "train_run.h"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

TrainRun train(const std::string& model, DType precision, bool sums_first, const Dataset& data) {
  TrainConfig cfg = test_train_config(model);
  cfg.compile.precision = precision;
  cfg.compile.sum_before_scatter = sums_first;
  return train_run(cfg, data);
}

// max |a - b| / (1 + |b|) over two float tensors of one shape.
double worst_difference(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(double(x[i]) - y[i]) / (1 + std::abs(y[i])));
  return worst;
}

}  // namespace

class SumBeforeScatterTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(SumBeforeScatterTraining, MatchesTheGraphAsWrittenUpToRounding) {
  MnistDataset data = synthetic_digits(96, 6);  // three steps of 32
  for (DType precision : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(precision));
    const TrainRun written = train(GetParam(), precision, false, data);
    const TrainRun summed = train(GetParam(), precision, true, data);
    if (precision == DType::bf16) {
      EXPECT_LT(summed.peak, written.peak);
    }
    ASSERT_EQ(summed.losses.size(), written.losses.size());
    for (size_t i = 0; i < written.losses.size(); ++i)
      EXPECT_NEAR(summed.losses[i], written.losses[i], 1e-5 * (1 + std::abs(written.losses[i]))) << "step " << i;
    // Three steps at the test config's learning rate: bias gradients that differ in their
    // last bits move every parameter by far less than 1e-5.
    for (const auto& [name, t] : written.state) {
      if (t.dtype() == DType::f32) {
        EXPECT_LE(worst_difference(summed.state.at(name), t), 1e-5) << name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, SumBeforeScatterTraining, ::testing::Values("mnist-cnn", "lenet5"),
                         [](const auto& info) { return info.param == "mnist-cnn" ? "MnistCnn" : "Lenet5"; });
