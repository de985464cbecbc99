// Training curves: the CSV columns and the plot's right panel follow the objective's scores;
// every step's loss and its smoothed line are in both.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "frontend/metrics.h"
#include "runtime/error.h"
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
            "row,epoch,step,train_loss,smoothed_train_loss,test_loss,test_accuracy,seconds,images_per_second\n"
            "epoch,1,,1,,1.5,0.5,2,100\nepoch,2,,0.5,,0.75,0.75,2,100\n");
  write_metrics_csv(dir / "reg.csv", {row(1, {{"mean_abs_error", 0.25}})});
  EXPECT_EQ(read_text(dir / "reg.csv"),
            "row,epoch,step,train_loss,smoothed_train_loss,test_loss,test_mean_abs_error,seconds,images_per_second\n"
            "epoch,1,,1,,1.5,0.25,2,100\n");
  write_metrics_csv(dir / "none.csv", {row(1, {})});
  EXPECT_EQ(read_text(dir / "none.csv"),
            "row,epoch,step,train_loss,smoothed_train_loss,test_loss,seconds,images_per_second\n"
            "epoch,1,,1,,1.5,2,100\n");
}

TEST(Metrics, SmoothingIsADebiasedMovingAverage) {
  // The first value is kept (no pull towards zero), a constant stays constant.
  EXPECT_EQ(smooth_losses({3.0}, 0.9), std::vector<double>{3.0});
  for (double v : smooth_losses({2, 2, 2, 2}, 0.95)) EXPECT_NEAR(v, 2.0, 1e-12);
  // beta 0.5 over {4, 0}: the average is 2 then 1, the weight left on zero 0.5 then 0.25.
  std::vector<double> s = smooth_losses({4, 0}, 0.5);
  EXPECT_DOUBLE_EQ(s[0], 4.0);
  EXPECT_DOUBLE_EQ(s[1], 1.0 / 0.75);
  EXPECT_EQ(smooth_losses({1, 5}, 0.0), (std::vector<double>{1, 5}));
  EXPECT_THROW(smooth_losses({1}, 1.0), ValueError);
}

TEST(Metrics, CsvHasARowPerStepBeforeItsEpoch) {
  dagrad::testing::TempDir dir;
  EpochMetrics e1 = row(1, {{"accuracy", 0.5, true}}), e2 = row(2, {{"accuracy", 0.75, true}});
  e1.step_losses = {4, 0};
  e1.first_step = 1;
  e2.step_losses = {2};
  e2.first_step = 3;
  // The smoothing runs across epochs: step 3 continues from steps 1 and 2.
  const std::vector<double> sm = smooth_losses({4, 0, 2});
  write_metrics_csv(dir / "steps.csv", {e1, e2});
  std::ostringstream want;
  want << "row,epoch,step,train_loss,smoothed_train_loss,test_loss,test_accuracy,seconds,images_per_second\n"
       << "step,1,1,4," << sm[0] << ",,,,\nstep,1,2,0," << sm[1] << ",,,,\nepoch,1,2,1,,1.5,0.5,2,100\n"
       << "step,2,3,2," << sm[2] << ",,,,\nepoch,2,3,0.5,,0.75,0.75,2,100\n";
  EXPECT_EQ(read_text(dir / "steps.csv"), want.str());
}

TEST(Metrics, PlotDrawsEveryStepAndTheSmoothedLine) {
  EpochMetrics e1 = row(1, {{"accuracy", 0.5, true}}), e2 = row(2, {{"accuracy", 0.75, true}});
  e1.step_losses = {2.5, 1.5, 1.0};
  e2.step_losses = {0.8, 0.6, 0.5};
  e2.first_step = 4;
  const std::string svg = metrics_svg({e1, e2}, "t");
  for (const char* want : {"class='step-loss'", "class='smoothed-loss'", ">train loss per step<",
                           ">smoothed (EMA 0.95)<", ">train loss (epoch mean)<", ">test loss<"})
    EXPECT_NE(svg.find(want), std::string::npos) << want;
  // Six steps, six points on the per-step line, the first at epoch 1/3 of the axis 0..2.
  const size_t at = svg.find("class='step-loss'");
  const size_t from = svg.find("points='", at) + 8, to = svg.find('\'', from);
  const std::string pts = svg.substr(from, to - from);
  EXPECT_EQ(std::count(pts.begin(), pts.end(), ','), 6) << pts;
  EXPECT_EQ(pts.substr(0, pts.find(',')), "110") << "x of step 1: 60 + (1/3)/2 * 300";
  // Without steps, the plot is the per-epoch one.
  EXPECT_EQ(metrics_svg({row(1, {})}, "t").find("step-loss"), std::string::npos);
}

TEST(Metrics, LongRunsKeepThePlotSmall) {
  EpochMetrics e = row(1, {});
  for (int i = 0; i < 100000; ++i) e.step_losses.push_back(i % 100 == 0 ? 9.0f : 1.0f);
  const std::string svg = metrics_svg({e}, "t");
  EXPECT_LT(svg.size(), 60000u);
  // Every 100th step spikes to 9: the per-column envelope keeps the spikes (y of 9 on a
  // panel whose top is 9 * 1.05: 50 + 230 * (1 - 1 / 1.05)).
  EXPECT_NE(svg.find(",60.952 "), std::string::npos);
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
