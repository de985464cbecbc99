// The Trainer knows no task: a regression model and a classifier on logits train through
// it as the built-in models do, under the input names their data sets give, with the
// loss and metrics of their objective computed by graph ops.
#include <gtest/gtest.h>

#include <sstream>

#include "frontend/objective.h"
#include "frontend/trainer.h"
#include "runtime/rng.h"
#include "synthetic_data.h"
#include "test_train_config.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::testing::error_of;

namespace {

// y = A·x + b for x uniform in [-1, 1)^4: a linear model can fit it exactly. The input
// and target are called "x" and "y", and the targets are float values [B,2].
class LinearData final : public Dataset {
 public:
  LinearData(int64_t n, uint64_t seed) : x_(Tensor::empty(Shape{n, 4})) {
    Generator gen(seed);
    fill_uniform(x_, gen, -1.0, 1.0);
  }
  int64_t size() const override { return x_.shape()[0]; }
  Batch gather(std::span<const int64_t> indices) const override {
    const auto b = static_cast<int64_t>(indices.size());
    Batch batch{Tensor::empty(Shape{b, 4}), Tensor::empty(Shape{b, 2})};
    for (int64_t i = 0; i < b; ++i) {
      const float* x = x_.data<float>() + indices[i] * 4;
      std::copy(x, x + 4, batch.input.data<float>() + i * 4);
      for (int k = 0; k < 2; ++k) {
        double y = kB[k];
        for (int j = 0; j < 4; ++j) y += kA[k][j] * x[j];
        batch.target.data<float>()[i * 2 + k] = static_cast<float>(y);
      }
    }
    return batch;
  }
  SampleNames names() const override { return {"x", "y"}; }

 private:
  static constexpr double kA[2][4] = {{0.5, -1.0, 0.25, 2.0}, {-0.75, 0.1, 1.5, -0.5}};
  static constexpr double kB[2] = {0.3, -0.2};
  Tensor x_;
};

TrainConfig regression_config(int epochs) {
  TrainConfig cfg = dagrad::testing::test_train_config("linear", epochs);
  cfg.batch_size = 16;
  cfg.eval_batch_size = 64;
  cfg.schedule.base_lr = 0.1;
  cfg.objective = regression();
  return cfg;
}

}  // namespace

TEST(Objective, RegressionTrainsThroughTheTrainer) {
  LinearData train(256, 1), test(64, 2);
  std::ostringstream log;
  Trainer trainer(std::make_shared<nn::Sequential>("", std::vector<nn::ModulePtr>{nn::linear("fc", 4, 2)}),
                  regression_config(8), log);
  const double error_before = trainer.evaluate(test).score("mean_abs_error");
  std::vector<EpochMetrics> rows = trainer.fit(train, test);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_LT(rows.back().train_loss, 1e-3 * rows.front().train_loss) << log.str();
  EXPECT_LT(rows.back().test_loss, 1e-4) << log.str();
  const double error_after = rows.back().test_score("mean_abs_error");
  EXPECT_LT(error_after, 0.01) << log.str();
  EXPECT_GT(error_before, 50 * error_after);
  // The graphs bound the data set's names; the log and the scores speak of regression.
  EXPECT_EQ(trainer.names(), (SampleNames{"x", "y"}));
  EXPECT_NE(log.str().find(", test mean abs error "), std::string::npos) << log.str();
  EXPECT_EQ(rows.back().test_scores.size(), 1u);
  EXPECT_NE(error_of<ValueError>([&] { (void)rows.back().test_score("accuracy"); })
                .find("no score named 'accuracy' (the objective reports mean_abs_error)"),
            std::string::npos);
  // The model predicts the targets.
  Batch probe = test.gather(std::vector<int64_t>{0, 1, 2});
  const std::vector<float> got = trainer.predict(probe.input).to_vector<float>();
  const std::vector<float> want = probe.target.to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 0.02) << "element " << i;
}

TEST(Objective, RegressionRefusesTargetsOfAnotherShape) {
  std::ostringstream log;
  // The model's output is [B,1] but the targets are [B,2].
  Trainer trainer(std::make_shared<nn::Sequential>("", std::vector<nn::ModulePtr>{nn::linear("fc", 4, 1)}),
                  regression_config(1), log);
  EXPECT_NE(error_of<ShapeError>([&] { trainer.train_epoch(LinearData(32, 3), 0); })
                .find("[regression] the targets have shape [16,2] but the model's output has shape [16,1]"),
            std::string::npos);
}

// A classifier that outputs logits trains with softmax cross-entropy; its confusion
// matrix, computed by graph ops, counts what the row maxima of its output say.
TEST(Objective, ClassificationOnLogits) {
  MnistDataset train = dagrad::testing::synthetic_digits(320, 3), test = dagrad::testing::synthetic_digits(100, 4);
  TrainConfig cfg = dagrad::testing::test_train_config("mlp-logits", 5);
  cfg.optimizer = "adam";
  cfg.schedule.base_lr = 3e-3;
  cfg.objective = classification(ClassScores::logits);
  auto model = std::make_shared<nn::Sequential>("", std::vector<nn::ModulePtr>{
      nn::flatten(), nn::linear("fc1", 784, 64), nn::relu(), nn::linear("fc2", 64, 10)});
  std::ostringstream log;
  Trainer trainer(model, cfg, log);
  std::vector<EpochMetrics> rows = trainer.fit(train, test);
  EXPECT_LT(rows.back().train_loss, rows.front().train_loss);
  EXPECT_GT(rows.back().test_score("accuracy"), 0.8) << log.str();

  const EvalResult r = trainer.evaluate(test);
  const Tensor& confusion = r.totals.at("confusion");
  ASSERT_EQ(confusion.shape(), (Shape{10, 10}));
  ASSERT_EQ(confusion.dtype(), DType::i64);
  std::vector<int64_t> want(100, 0);
  std::vector<int64_t> all(100);
  for (int64_t i = 0; i < 100; ++i) all[i] = i;
  const Batch b = test.gather(all);
  const Tensor logits = trainer.predict(b.input);
  int64_t correct = 0;
  for (int64_t i = 0; i < 100; ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < 10; ++c)
      if (logits.data<float>()[i * 10 + c] > logits.data<float>()[i * 10 + best]) best = c;
    const int64_t truth = b.target.data<int64_t>()[i];
    ++want[truth * 10 + best];
    correct += best == truth;
  }
  EXPECT_EQ(confusion.to_vector<int64_t>(), want);
  EXPECT_DOUBLE_EQ(r.score("accuracy"), static_cast<double>(correct) / 100);
}

TEST(Objective, InputNamesMustBeUsable) {
  class Named final : public Dataset {
   public:
    explicit Named(SampleNames names) : names_(std::move(names)) {}
    int64_t size() const override { return 4; }
    Batch gather(std::span<const int64_t>) const override { return {}; }
    SampleNames names() const override { return names_; }

   private:
    SampleNames names_;
  };
  std::ostringstream log;
  Trainer trainer(std::make_shared<nn::Sequential>("", std::vector<nn::ModulePtr>{nn::linear("fc", 4, 2)}),
                  regression_config(1), log);
  for (const SampleNames& bad : {SampleNames{"lr", "y"}, SampleNames{"x", "x"}, SampleNames{"", "y"}})
    EXPECT_NE(error_of<ValueError>([&] { trainer.evaluate(Named(bad)); })
                  .find("they must be two different, non-empty names other than 'lr'"),
              std::string::npos)
        << bad.input << " / " << bad.target;
}
