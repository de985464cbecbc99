// Training curves: per-epoch metrics written as CSV and drawn as a self-contained SVG.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace dagrad {

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;  // fraction in [0, 1]
  double seconds = 0;
  double images_per_second = 0;
};

// epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second; written atomically.
void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochMetrics>& rows);
// Two panels (losses; test accuracy) with axes and labels; written atomically.
std::string metrics_svg(const std::vector<EpochMetrics>& rows, const std::string& title);
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace dagrad
