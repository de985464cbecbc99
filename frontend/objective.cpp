#include "frontend/objective.h"

#include <algorithm>

#include "ops/ops.h"
#include "runtime/error.h"

namespace dagrad {

namespace {

class Classification final : public Objective {
 public:
  explicit Classification(ClassScores scores) : scores_(scores) {}

  std::string describe() const override {
    return scores_ == ClassScores::logits ? "classification (softmax_cross_entropy on logits)"
                                          : "classification (nll_loss on log-probabilities)";
  }

  Value loss(Value output, Value target) const override {
    return scores_ == ClassScores::logits ? softmax_cross_entropy(output, target) : nll_loss(output, target);
  }

  std::vector<Value> step_metrics(Value output, Value target) const override { return {accuracy(output, target)}; }

  // Rows of the output are scored by their first maximum, in log-probabilities and in
  // logits alike (softmax keeps the order).
  std::vector<Metric> metrics(Value output, Value target) const override {
    check_scores(output);
    return {{"confusion", confusion_matrix(argmax(output, -1), target, output.dim(1))}};
  }

  std::vector<Score> scores(const TensorMap& totals, int64_t samples) const override {
    const Tensor& confusion = totals.at("confusion");
    const int64_t classes = confusion.shape()[0];
    int64_t correct = 0;
    for (int64_t c = 0; c < classes; ++c) correct += confusion.data<int64_t>()[c * classes + c];
    const double accuracy = samples ? static_cast<double>(correct) / static_cast<double>(samples) : 0;
    return {{"accuracy", accuracy, /*fraction=*/true}};
  }

 private:
  static void check_scores(const Value& output) {
    if (output.shape().rank() != 2)
      throw ShapeError(str_cat("[classification] the model's output must be scores [N,C], got shape ",
                               output.shape().to_string(), " (for another kind of output, choose another objective)"));
  }

  ClassScores scores_;
};

class Regression final : public Objective {
 public:
  std::string describe() const override { return "regression (mean squared error)"; }

  Value loss(Value output, Value target) const override {
    const Value d = difference(output, target);
    return mean(d * d);
  }

  std::vector<Value> step_metrics(Value, Value) const override { return {}; }

  std::vector<Metric> metrics(Value output, Value target) const override {
    const Value d = difference(output, target);
    const double per_sample = static_cast<double>(output.shape().numel() / std::max<int64_t>(output.dim(0), 1));
    return {{"abs_error", sum(abs(d)) / per_sample}};
  }

  std::vector<Score> scores(const TensorMap& totals, int64_t samples) const override {
    const double total = totals.at("abs_error").data<double>()[0];
    return {{"mean_abs_error", samples ? total / static_cast<double>(samples) : 0}};
  }

 private:
  // Same shapes only: broadcasting [N] against [N,1] would silently compare every
  // sample with every target.
  static Value difference(const Value& output, const Value& target) {
    if (output.shape() != target.shape() || output.shape().rank() == 0)
      throw ShapeError(str_cat("[regression] the targets have shape ", target.shape().to_string(),
                               " but the model's output has shape ", output.shape().to_string(),
                               "; they must be equal, with the samples along the first dimension"));
    return output - target;
  }
};

}  // namespace

std::shared_ptr<const Objective> classification(ClassScores scores) {
  return std::make_shared<const Classification>(scores);
}

std::shared_ptr<const Objective> regression() { return std::make_shared<const Regression>(); }

}  // namespace dagrad
