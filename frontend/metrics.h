// Training curves: per-epoch metrics written as CSV and drawn as a self-contained SVG.
#pragma once
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

  double test_score(std::string_view name) const { return score_named(test_scores, name); }
};

// epoch,train_loss,test_loss,test_<score>...,seconds,images_per_second (the scores of the
// first row); written atomically.
void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochMetrics>& rows);
// Two panels (losses; the first test score, e.g. accuracy), or the losses alone when
// there is no score, with axes and labels.
std::string metrics_svg(const std::vector<EpochMetrics>& rows, const std::string& title);
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace dagrad
