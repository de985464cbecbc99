// Training curves: the CSV columns and the plot's right panel follow the objective's scores.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "frontend/metrics.h"
#include "test_files.h"

using namespace dagrad;

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

EpochMetrics row(int epoch, std::vector<Score> scores) {
  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = 1.0 / epoch;
  m.test_loss = 1.5 / epoch;
  m.test_scores = std::move(scores);
  m.seconds = 2;
  m.images_per_second = 100;
  return m;
}

}  // namespace

TEST(Metrics, CsvHasOneColumnPerScore) {
  dagrad::testing::TempDir dir;
  write_metrics_csv(dir / "cls.csv", {row(1, {{"accuracy", 0.5, true}}), row(2, {{"accuracy", 0.75, true}})});
  EXPECT_EQ(read_text(dir / "cls.csv"),
            "epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second\n"
            "1,1,1.5,0.5,2,100\n2,0.5,0.75,0.75,2,100\n");
  write_metrics_csv(dir / "reg.csv", {row(1, {{"mean_abs_error", 0.25}})});
  EXPECT_EQ(read_text(dir / "reg.csv"),
            "epoch,train_loss,test_loss,test_mean_abs_error,seconds,images_per_second\n1,1,1.5,0.25,2,100\n");
  write_metrics_csv(dir / "none.csv", {row(1, {})});
  EXPECT_EQ(read_text(dir / "none.csv"), "epoch,train_loss,test_loss,seconds,images_per_second\n1,1,1.5,2,100\n");
}

TEST(Metrics, PlotShowsTheFirstScore) {
  const std::string cls = metrics_svg({row(1, {{"accuracy", 0.5, true}}), row(2, {{"accuracy", 0.75, true}})}, "t");
  EXPECT_NE(cls.find(">test accuracy (%)<"), std::string::npos);
  EXPECT_NE(cls.find(">test accuracy<"), std::string::npos);
  EXPECT_NE(cls.find("<rect x='440'"), std::string::npos);  // the right panel
  const std::string reg = metrics_svg({row(1, {{"mean_abs_error", 0.5}}), row(2, {{"mean_abs_error", 0.25}})}, "t");
  EXPECT_NE(reg.find(">test mean abs error<"), std::string::npos);
  EXPECT_EQ(reg.find("(%)"), std::string::npos);
  const std::string none = metrics_svg({row(1, {})}, "t");
  EXPECT_NE(none.find(">train loss<"), std::string::npos);
  EXPECT_EQ(none.find("<rect x='440'"), std::string::npos) << "no right panel without a score";
}
