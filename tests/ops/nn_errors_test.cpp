// The nn family's errors: each names the op and says what is wrong, at build time
// (shape inference) or, for target values, at run time.
#include <gtest/gtest.h>

#include <string>

#include "ops/interpreter.h"
#include "ops/ops.h"
#include "tests/error_of.h"

using namespace dagrad;

namespace {

using dagrad::testing::expect_error;

// Runs `loss_fn(scores, target)` with target values `labels` on [N,C] scores.
template <class Fn>
void run_with_targets(Fn loss_fn, int64_t n, int64_t c, const std::vector<int64_t>& labels) {
  Graph g;
  Value x = g.input("x", Shape{n, c});
  Value t = g.input("t", Shape{n}, DType::i64);
  Value out = loss_fn(x, t);
  TensorMap bind{{"x", Tensor::full(Shape{n, c}, 0.5)}, {"t", Tensor::from_vector(Shape{n}, labels)}};
  std::vector<Value> outs{out};
  interpret(g, outs, bind);
}

}  // namespace

TEST(NnErrors, TargetMustBeInt64) {
  Graph g;
  Value x = g.input("x", Shape{5, 10});
  Value t = g.input("t", Shape{5});
  expect_error<TypeError>([&] { nll_loss(x, t); }, "[nll_loss] target must be int64 class ids, got float32");
  expect_error<TypeError>([&] { softmax_cross_entropy(x, t); },
                          "[softmax_cross_entropy] target must be int64 class ids, got float32");
  expect_error<TypeError>([&] { accuracy(x, t); }, "[accuracy] target must be int64 class ids, got float32");
}

TEST(NnErrors, TargetLengthMustMatchRows) {
  Graph g;
  Value x = g.input("x", Shape{5, 10});
  Value t = g.input("t", Shape{4}, DType::i64);
  expect_error<ShapeError>([&] { softmax_cross_entropy(x, t); },
                           "[softmax_cross_entropy] target has 4 entries but logits has 5 rows (logits shape [5,10])");
  expect_error<ShapeError>([&] { nll_loss(x, t); },
                           "[nll_loss] target has 4 entries but log_probs has 5 rows (log_probs shape [5,10])");
  expect_error<ShapeError>([&] { accuracy(x, t); }, "[accuracy] target has 4 entries but logits has 5 rows");
  Value t2 = g.input("t2", Shape{5, 1}, DType::i64);
  expect_error<ShapeError>([&] { nll_loss(x, t2); }, "[nll_loss] target must be 1-D [N], got shape [5,1]");
}

TEST(NnErrors, ScoresMustBe2D) {
  Graph g;
  Value x3 = g.input("x3", Shape{2, 3, 4});
  Value t = g.input("t", Shape{2}, DType::i64);
  expect_error<ShapeError>([&] { softmax_cross_entropy(x3, t); },
                           "[softmax_cross_entropy] logits must be 2-D [N,C], got shape [2,3,4]");
  expect_error<ShapeError>([&] { nll_loss(x3, t); }, "[nll_loss] log_probs must be 2-D [N,C], got shape [2,3,4]");
  Value xi = g.input("xi", Shape{2, 3}, DType::i64);
  expect_error<TypeError>([&] { accuracy(xi, t); }, "[accuracy] logits must be float32 or float64, got int64");
  Value empty = g.input("empty", Shape{2, 0});
  expect_error<ShapeError>([&] { softmax_cross_entropy(empty, t); },
                           "[softmax_cross_entropy] logits has shape [2,0]; it needs at least one row and one class");
}

TEST(NnErrors, LossBackwardGradMustBeScalar) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value t = g.input("t", Shape{2}, DType::i64);
  Value g3 = g.input("g3", Shape{3});
  expect_error<ShapeError>([&] { softmax_cross_entropy_backward(g3, x, t); },
                           "[softmax_cross_entropy_backward] grad must be a scalar (shape []), got [3]");
  Value g64 = g.input("g64", Shape{}, DType::f64);
  expect_error<TypeError>([&] { softmax_cross_entropy_backward(g64, x, t); },
                          "[softmax_cross_entropy_backward] grad is float64 but the scores are float32");
}

TEST(NnErrors, TargetOutOfRangeAtRunTime) {
  const std::vector<int64_t> labels{1, 0, 9, 12, 3, -1};
  expect_error<ValueError>([&] { run_with_targets([](Value x, Value t) { return nll_loss(x, t); }, 6, 10, labels); },
                           "[nll_loss] target[3] = 12 is out of range for 10 classes");
  expect_error<ValueError>(
      [&] { run_with_targets([](Value x, Value t) { return softmax_cross_entropy(x, t); }, 6, 10, labels); },
      "[softmax_cross_entropy] target[3] = 12 is out of range for 10 classes");
  expect_error<ValueError>([&] { run_with_targets([](Value x, Value t) { return accuracy(x, t); }, 6, 10, labels); },
                           "[accuracy] target[3] = 12 is out of range for 10 classes");
  expect_error<ValueError>(
      [&] {
        run_with_targets([](Value x, Value t) { return nll_loss(x, t); }, 3, 10, {1, -1, 2});
      },
      "[nll_loss] target[1] = -1 is out of range for 10 classes");
  expect_error<ValueError>(
      [&] {
        run_with_targets(
            [](Value x, Value t) { return softmax_cross_entropy_backward(full(*x.graph, Shape{}, 1.0), x, t); }, 2, 4,
            {0, 4});
      },
      "[softmax_cross_entropy_backward] target[1] = 4 is out of range for 4 classes");
}

TEST(NnErrors, ConfusionMatrixInputs) {
  Graph g;
  Value p = g.input("p", Shape{5}, DType::i64);
  Value t = g.input("t", Shape{5}, DType::i64);
  expect_error<ValueError>([&] { confusion_matrix(p, t, 0); }, "[confusion_matrix] num_classes must be >= 1, got 0");
  Value pf = g.input("pf", Shape{5});
  expect_error<TypeError>([&] { confusion_matrix(pf, t, 3); },
                          "[confusion_matrix] predicted must be int64 class ids, got float32");
  Value t4 = g.input("t4", Shape{4}, DType::i64);
  expect_error<ShapeError>([&] { confusion_matrix(p, t4, 3); },
                           "[confusion_matrix] predicted has 5 entries but target has 4");
  Value t2 = g.input("t2", Shape{5, 1}, DType::i64);
  expect_error<ShapeError>([&] { confusion_matrix(p, t2, 3); },
                           "[confusion_matrix] target must be 1-D [N], got shape [5,1]");
  // Class ids are checked when the kernel runs.
  Value counts = confusion_matrix(p, t, 3);
  std::vector<Value> outs{counts};
  const Tensor ok = Tensor::from_vector(Shape{5}, std::vector<int64_t>{0, 1, 2, 1, 0});
  const Tensor bad = Tensor::from_vector(Shape{5}, std::vector<int64_t>{0, 1, 3, 1, 0});
  EXPECT_EQ(interpret(g, outs, {{"p", ok}, {"t", ok}})[0].to_vector<int64_t>(),
            (std::vector<int64_t>{2, 0, 0, 0, 2, 0, 0, 0, 1}));
  expect_error<ValueError>([&] { interpret(g, outs, {{"p", ok}, {"t", bad}}); },
                           "[confusion_matrix] target[2] = 3 is out of range for 3 classes");
  expect_error<ValueError>([&] { interpret(g, outs, {{"p", bad}, {"t", ok}}); },
                           "[confusion_matrix] predicted[2] = 3 is out of range for 3 classes");
}

TEST(NnErrors, OneHotIndicesMustBeIntegers) {
  Graph g;
  for (DType t : {DType::f32, DType::bf16, DType::f16, DType::boolean})
    expect_error<TypeError>([&] { one_hot(g.input(str_cat("i", dtype_name(t)), Shape{3}, t), 4); },
                            str_cat("[one_hot] indices must be integers, got ", dtype_name(t)));
}

TEST(NnErrors, DropoutProbabilityOutOfRange) {
  Graph g;
  Value x = g.input("x", Shape{4, 4});
  expect_error<ValueError>([&] { dropout(x, 1.0, 0); }, "[dropout] p must be in [0, 1), got 1");
  expect_error<ValueError>([&] { dropout(x, -0.1, 0); }, "[dropout] p must be in [0, 1), got -0.1");
  expect_error<ValueError>([&] { dropout(x, 1.5, 0, false); }, "[dropout] p must be in [0, 1), got 1.5");
  Value xi = g.input("xi", Shape{4}, DType::i32);
  expect_error<TypeError>([&] { dropout(xi, 0.5, 0); }, "[dropout] input 0 must be float32 or float64, got int32");
}

TEST(NnErrors, BatchNormChannelMismatch) {
  Graph g;
  Value x = g.input("x", Shape{2, 3, 5, 5});
  Value c3 = g.input("c3", Shape{3});
  Value c4 = g.input("c4", Shape{4});
  expect_error<ShapeError>([&] { batch_norm(x, c4, c3, c3, c3, true); },
                           "[batch_norm] gamma has shape [4] but x has 3 channels (x shape [2,3,5,5]); expected [3]");
  expect_error<ShapeError>([&] { batch_norm(x, c3, c3, c3, c4, false); },
                           "[batch_norm] running_var has shape [4] but x has 3 channels");
  Value c3d = g.input("c3d", Shape{3}, DType::f64);
  expect_error<TypeError>([&] { batch_norm(x, c3, c3d, c3, c3, true); },
                          "[batch_norm] beta is float64 but x is float32");
  Value x1 = g.input("x1", Shape{3});
  expect_error<ShapeError>([&] { batch_norm(x1, c3, c3, c3, c3, true); },
                           "[batch_norm] x must be [N,C] or [N,C,H,W], got shape [3]");
}

TEST(NnErrors, BatchNormAttributes) {
  Graph g;
  Value x = g.input("x", Shape{1, 3});
  Value c3 = g.input("c3", Shape{3});
  expect_error<ValueError>([&] { batch_norm(x, c3, c3, c3, c3, true); },
                           "[batch_norm] training needs more than one value per channel, got x shape [1,3]");
  batch_norm(x, c3, c3, c3, c3, false);  // eval mode is fine with one value per channel
  Value x2 = g.input("x2", Shape{2, 3});
  expect_error<ValueError>([&] { batch_norm(x2, c3, c3, c3, c3, true, 1.5); },
                           "[batch_norm] momentum must be in [0, 1], got 1.5");
  expect_error<ValueError>([&] { batch_norm(x2, c3, c3, c3, c3, true, 0.1, -1.0); },
                           "[batch_norm] eps must be >= 0, got -1");
}

TEST(NnErrors, BatchNormBackwardShapes) {
  Graph g;
  Value x = g.input("x", Shape{2, 3, 4, 4});
  Value dy = g.input("dy", Shape{2, 3, 4, 3});
  Value c3 = g.input("c3", Shape{3});
  expect_error<ShapeError>(
      [&] {
        apply_multi("batch_norm_backward", {dy, x, c3, c3, c3});
      },
      "[batch_norm_backward] grad_y is [2,3,4,3] float32 but x is [2,3,4,4] float32");
  Value c2 = g.input("c2", Shape{2});
  expect_error<ShapeError>(
      [&] {
        apply_multi("batch_norm_backward", {x, x, c3, c2, c3});
      },
      "[batch_norm_backward] save_mean has shape [2] but x has 3 channels");
}
