// Training curves: the loss of every step (with a smoothed line) and the per-epoch
// metrics, written as CSV and drawn as a self-contained SVG.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dagrad {

// A number evaluation reports about a whole data set (Objective::scores).
struct Score {
  std::string name;       // "accuracy", "mean_abs_error": a CSV column and a plot label
  double value = 0;
  bool fraction = false;  // in [0, 1], shown as a percentage
};

// The score called `name` among `scores`; ValueError naming those there are otherwise.
double score_named(const std::vector<Score>& scores, std::string_view name);

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double train_loss = 0;
  double test_loss = 0;
  std::vector<Score> test_scores;  // the objective's (classification: accuracy)
  double seconds = 0;
  double images_per_second = 0;  // samples per second
  // The training loss of each of the epoch's steps, in order; the first is global step
  // `first_step` (1-based, counted across epochs and resumed runs).
  std::vector<float> step_losses;
  int64_t first_step = 1;

  double test_score(std::string_view name) const { return score_named(test_scores, name); }
};

// The per-step curve's smoothing: an exponential moving average with weight `beta` on
// the past, debiased as in Adam (divided by 1 - beta^n), so the first steps are not
// pulled towards zero. beta 0.95 averages over about 20 steps.
constexpr double kLossSmoothing = 0.95;
std::vector<double> smooth_losses(const std::vector<double>& losses, double beta = kLossSmoothing);

// One CSV in long form, rows in the order they happened: each epoch's steps, then the epoch.
//   row,epoch,step,train_loss,smoothed_train_loss,test_loss,test_<score>...,seconds,images_per_second
//   step rows:  the step's loss and the smoothed loss (over every step in `rows`); test
//               columns, seconds and images/s empty;
//   epoch rows: step = the epoch's last global step, train_loss = the epoch's mean,
//               smoothed empty, the test loss and scores (those of the first row).
// Filter on `row` to get either curve. Written atomically.
void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochMetrics>& rows);
// Two panels (losses; the first test score, e.g. accuracy), or the losses alone when
// there is no score, with axes and labels. The loss panel draws every step's loss (thin)
// and its smoothed line at fractional epochs, and the per-epoch means as points at each
// epoch's end.
std::string metrics_svg(const std::vector<EpochMetrics>& rows, const std::string& title);
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace dagrad
