// What a model is trained to do: the loss that training minimises and the metrics that
// evaluation reports, both built as graph nodes from the model's output and the targets,
// so the Trainer knows no task. Classification and regression are provided; a task of
// your own is a subclass.
//
//   cfg.objective = classification(ClassScores::logits);  // softmax cross-entropy
//   cfg.objective = regression();                         // mean squared error
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "frontend/metrics.h"
#include "ops/graph.h"
#include "ops/interpreter.h"

namespace dagrad {

// One batch's part of a metric, as a graph node: a sum over the batch's samples (a
// count, a sum of errors, a matrix of counts) that evaluation adds up over all batches
// and ranks. Integer nodes are added up exactly; floating ones in float64.
struct Metric {
  std::string name;
  Value batch_total;
};

class Objective {
 public:
  virtual ~Objective() = default;
  // "classification (nll_loss on log-probabilities)": for logs and messages.
  virtual std::string describe() const = 0;
  // The mean loss over the batch: a floating scalar node.
  virtual Value loss(Value output, Value target) const = 0;
  // What the training step outputs after its loss, per batch, for those who run
  // Trainer::train_session() themselves (classification: the batch's accuracy).
  virtual std::vector<Value> step_metrics(Value output, Value target) const = 0;
  // The metrics evaluation adds up (no gradient flows through them).
  virtual std::vector<Metric> metrics(Value output, Value target) const = 0;
  // The scores of a whole data set of `samples` samples from the metrics' totals (host
  // tensors by metric name: int64 for integer metrics, float64 otherwise).
  virtual std::vector<Score> scores(const TensorMap& totals, int64_t samples) const = 0;
};

// What a classifier's output [N,C] holds, which decides the loss.
enum class ClassScores {
  log_probabilities,  // after log_softmax: nll_loss (the built-in models)
  logits,             // before any softmax: softmax_cross_entropy, fused and stable
};

// Targets: int64 class ids [N] in [0, C), C being the output's second dimension.
// Metric "confusion": int64 [C,C] counts (row: true class, column: predicted class, the
// first maximum of the output's row). Score "accuracy": the fraction on the diagonal.
// The training step also outputs the batch's accuracy (a float32 fraction).
std::shared_ptr<const Objective> classification(ClassScores scores = ClassScores::log_probabilities);

// Targets: float values of the output's shape [N,...]. Loss: the mean squared error over
// all elements. Metric "abs_error": per sample, the mean absolute error over its
// elements; score "mean_abs_error": its mean over the samples. The training step outputs
// its loss alone.
std::shared_ptr<const Objective> regression();

}  // namespace dagrad
