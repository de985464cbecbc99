// The roofline on known numbers, and where it shows: the "% roof" column of the per-op
// tables (summary.txt, dagrad bench --ops) and the chart in report.html.
#include "profiler/roofline.h"

#include <gtest/gtest.h>

#include "bench/bench.h"
#include "ops/ops.h"
#include "profiler/html_report.h"
#include "profiler/profiler.h"
#include "scheduler/compile.h"

namespace dagrad::profiler {
namespace {

// 100 GFLOP/s and 10 GB/s: the ridge at 10 FLOP/byte.
MachinePeak test_peak() {
  MachinePeak p;
  p.key = p.description = "test machine";
  p.gflops = 100;
  p.gbps = 10;
  return p;
}

TEST(Roofline, RoofIsTheLowerOfBandwidthAndPeak) {
  const MachinePeak peak = test_peak();
  EXPECT_DOUBLE_EQ(peak.ridge_flops_per_byte(), 10);
  EXPECT_DOUBLE_EQ(roof_gflops(2, peak), 20);     // memory-bound: 2 FLOP/byte x 10 GB/s
  EXPECT_DOUBLE_EQ(roof_gflops(10, peak), 100);   // at the ridge
  EXPECT_DOUBLE_EQ(roof_gflops(50, peak), 100);   // compute-bound: the FMA peak
  EXPECT_DOUBLE_EQ(roof_gflops(0, peak), 0);
}

TEST(Roofline, FractionIsAchievedOverRoof) {
  const MachinePeak peak = test_peak();
  // 2 GFLOP over 1 GB (2 FLOP/byte) in 0.2 s: 10 GFLOP/s of a 20 GFLOP/s roof.
  EXPECT_DOUBLE_EQ(roof_fraction(2e9, 1e9, 0.2, peak), 0.5);
  // 50 GFLOP over 1 GB in 1 s: 50 of 100.
  EXPECT_DOUBLE_EQ(roof_fraction(50e9, 1e9, 1, peak), 0.5);
  // No FLOPs: the bandwidth alone (5 GB in 1 s of 10 GB/s).
  EXPECT_DOUBLE_EQ(roof_fraction(0, 5e9, 1, peak), 0.5);
  EXPECT_DOUBLE_EQ(roof_fraction(1e9, 1e9, 0, peak), 0);
  // The same as achieved GFLOP/s over roof_gflops wherever both are defined.
  for (double intensity : {0.1, 1.0, 10.0, 100.0}) {
    const double flops = 3e9, bytes = flops / intensity, seconds = 0.7;
    EXPECT_NEAR(roof_fraction(flops, bytes, seconds, peak), flops / seconds * 1e-9 / roof_gflops(intensity, peak),
                1e-12);
  }
}

Summary hand_made_summary() {
  Summary s;
  s.runs = 1;
  auto row = [](std::string op, StepClass kind, double flops, double bytes, double seconds, double share) {
    SummaryRow r;
    r.op = std::move(op), r.kind = kind, r.calls = 1, r.flops = flops, r.bytes = bytes, r.seconds = seconds;
    r.share = share;
    return r;
  };
  s.rows = {row("conv2d", StepClass::conv, 50e9, 1e9, 1.0, 0.6),          // 50% of roof
            row("relu", StepClass::elementwise, 1e8, 1e9, 0.4, 0.3),      // 25%
            row("copy", StepClass::other, 0, 1e9, 1.0, 0.095),            // 10%
            row("tiny", StepClass::elementwise, 1e3, 1e3, 1.0, 0.005)};   // ~0%, under 1% of the time
  for (const SummaryRow& r : s.rows) s.step_seconds += r.seconds, s.calls += 1;
  return s;
}

TEST(Roofline, FurthestBelowSkipsOpsWithoutTime) {
  const std::vector<SummaryRow> low = furthest_below_roof(hand_made_summary(), test_peak(), 2);
  ASSERT_EQ(low.size(), 2u);
  EXPECT_EQ(low[0].op, "copy");
  EXPECT_EQ(low[1].op, "relu");
  const std::string text = roofline_text(hand_made_summary(), test_peak());
  EXPECT_NE(text.find("ridge at 10.00 FLOP/byte (measured now)"), std::string::npos) << text;
  MachinePeak cached = test_peak();
  cached.from_cache = true;
  EXPECT_NE(roofline_text(hand_made_summary(), cached)
                .find("(cached peaks; dagrad profile --remeasure-peaks measures them again)"),
            std::string::npos);
  EXPECT_NE(text.find("copy 10.0% (memory-bound"), std::string::npos) << text;
  EXPECT_NE(text.find("conv2d 50.0% (compute-bound, 50.00 FLOP/byte)"), std::string::npos) << text;
  EXPECT_EQ(text.find("above their roof"), std::string::npos) << text;
}

// An op faster than its roof (Winograd, AMX, data in cache) is named with the reasons.
TEST(Roofline, OpsAboveTheRoofAreNamedWithWhy) {
  Summary s = hand_made_summary();
  s.rows[0].seconds = 0.25;  // conv2d: 50 GFLOP in 0.25 s, 200 of a 100 GFLOP/s roof
  const std::string text = roofline_text(s, test_peak());
  EXPECT_NE(text.find("above their roof: conv2d 200.0% (the roof puts"), std::string::npos) << text;
  EXPECT_NE(text.find("Winograd"), std::string::npos) << text;
  EXPECT_EQ(text.find("relu 25"), text.rfind("relu 25")) << "relu is below its roof: named once, not above";
}

TEST(Roofline, ColumnOnlyWithPeaks) {
  const Summary s = hand_made_summary();
  const MachinePeak peak = test_peak();
  const std::string with = s.to_table(&peak), without = s.to_table();
  EXPECT_NE(with.find("% roof"), std::string::npos);
  EXPECT_NE(with.find("   50.0%\n"), std::string::npos) << with;  // conv2d's row ends with its share of roof
  EXPECT_EQ(without.find("% roof"), std::string::npos);
}

TEST(Roofline, ChartIsALogLogSvgWithTheRoofAndADotPerOp) {
  const std::string svg = roofline_svg(hand_made_summary(), test_peak());
  EXPECT_EQ(svg.rfind("<svg class=\"roofline\"", 0), 0u);
  EXPECT_NE(svg.find("class=\"roof\""), std::string::npos);
  EXPECT_NE(svg.find(">100.0 GFLOP/s FMA peak<"), std::string::npos);
  size_t dots = 0;
  for (size_t at = svg.find("<circle cx"); at != std::string::npos; at = svg.find("<circle cx", at + 1)) ++dots;
  EXPECT_EQ(dots, 3u + 2u) << "conv2d, relu, tiny (copy has no FLOPs), and two legend swatches";
  EXPECT_NE(svg.find(">0.01<"), std::string::npos);  // decades on the axes
  EXPECT_NE(svg.find(">100<"), std::string::npos);
}

TEST(Roofline, ReportHasTheChartWhenThePeaksAreKnown) {
  Graph g;
  Value x = g.input("x", Shape{16, 32});
  std::vector<Value> outputs = {sum(relu(matmul(x, g.input("w", Shape{32, 24}))))};
  const scheduler::ExecutionPlan plan = scheduler::compile(g, outputs, {});
  Profile p;
  p.plan = &plan;
  double t = 1;
  for (const scheduler::Step& s : plan.steps)
    if (s.is_compute()) p.steps.push_back(StepRecord{0, s.index, s.stream, t, t + 1e-3}), t += 2e-3;
  p.runs.push_back(RunRecord{1, t, true});
  const MachinePeak peak = test_peak();
  const std::string html = html_report(p, "t", {}, &peak);
  EXPECT_NE(html.find("<h2>Roofline</h2>"), std::string::npos);
  EXPECT_NE(html.find("<svg class=\"roofline\""), std::string::npos);
  EXPECT_NE(html.find("<th>% roof</th>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  const std::string plain = html_report(p, "t");
  EXPECT_EQ(plain.find("Roofline"), std::string::npos);
  EXPECT_EQ(plain.find("% roof"), std::string::npos);
  ReportOptions o;
  o.peak = peak;
  EXPECT_NE(summary_text(p, o).find("roofline: test machine: 100.0 GFLOP/s FMA peak"), std::string::npos);
}

TEST(Roofline, BenchOpsTableHasTheColumn) {
  bench::BenchReport r;
  r.options.threads = 2;
  r.train.batch = 1;
  r.peak = test_peak();
  // 2 threads x 0.5 s of CPU: 0.5 s on both cores for 25 GFLOP over 1 GB: 50% of roof.
  r.ops = {{"conv2d", 1, 1000, 25e9, 1e9}};
  const std::string text = bench::format_report(r);
  EXPECT_NE(text.find("% roof"), std::string::npos) << text;
  EXPECT_NE(text.find("  50.0%\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace dagrad::profiler
