// The scaling sweep: sizes, a reduced real sweep on the CPU (CSV columns, larger
// problems take longer), and the chart and summary drawn from hand-made results. No
// timed assertion beyond "a larger problem takes longer".
#include "bench/sweep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../error_of.h"
#include "bench/sweep_chart.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace dagrad::bench {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, sep);) out.push_back(f);
  return out;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SweepSizes, CoverTheIssuesRanges) {
  const std::vector<int64_t> cpu = sweep_sizes(SweepOp::matmul, Device::cpu());
  EXPECT_EQ(cpu.front(), 32);
  EXPECT_EQ(cpu.back(), 4096);
  EXPECT_TRUE(std::is_sorted(cpu.begin(), cpu.end()));
  EXPECT_EQ(sweep_sizes(SweepOp::matmul, Device::cuda(0)).back(), 16384);
  const std::vector<int64_t> square = sweep_sizes(SweepOp::square, Device::cpu());
  EXPECT_EQ(square.size(), 19u);
  EXPECT_EQ(square.front(), 1024);
  EXPECT_EQ(square.back(), int64_t{1} << 28);
  EXPECT_EQ(sweep_sizes(SweepOp::conv, Device::cpu()),
            (std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}));
  EXPECT_EQ(sweep_sizes(SweepOp::conv, Device::cpu(), 10), (std::vector<int64_t>{1, 2, 4, 8}));
  EXPECT_TRUE(sweep_sizes(SweepOp::matmul, Device::cpu(), 16).empty());
}

TEST(SweepOps, ParseNamesAndAll) {
  EXPECT_EQ(parse_sweep_ops("square"), std::vector<SweepOp>{SweepOp::square});
  EXPECT_EQ(parse_sweep_ops("all").size(), 3u);
  EXPECT_EQ(testing::error_of<ValueError>([] { parse_sweep_ops("fft"); }),
            "[bench] unknown sweep 'fft': use matmul, square, conv or all");
}

// A cache file with made-up peaks, so the test measures no peak and can name them.
class SweepRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / str_cat("dagrad_sweep_", ::getpid());
    fs::create_directories(dir_);
    profiler::clear_peak_memory_cache();
    const std::string key =
        str_cat(profiler::cpu_model_name(), " | ", num_threads(), num_threads() == 1 ? " thread" : " threads");
    nlohmann::json j = {{"format", "dagrad machine peaks"},
                        {"version", 1},
                        {"peaks", {{key, {{"description", "test CPU"}, {"gflops", 321.0}, {"gbps", 12.5}}}}}};
    std::ofstream(dir_ / "peaks.json") << j.dump();
    options_.peak_cache = {dir_ / "peaks.json", false};
    options_.min_seconds = 0.01;
    options_.max_seconds = 0.1;
  }
  void TearDown() override {
    fs::remove_all(dir_);
    profiler::clear_peak_memory_cache();
  }
  fs::path dir_;
  SweepOptions options_;
};

TEST_F(SweepRunTest, ReducedCpuSweepWritesColumnsAndGrowsWithSize) {
  // square over 2^10 ... 2^20 floats, then matmul with N = 32 ... 256.
  options_.ops = {SweepOp::square};
  options_.max_size = int64_t{1} << 20;
  std::ostringstream progress;
  options_.progress = &progress;
  SweepResult r = run_sweep(options_);
  options_.ops = {SweepOp::matmul};
  options_.max_size = 256;
  SweepResult m = run_sweep(options_);
  r.points.insert(r.points.end(), m.points.begin(), m.points.end());

  ASSERT_EQ(r.devices.size(), 1u);
  EXPECT_EQ(r.devices[0].peak.gflops, 321.0);  // from the cache file: nothing measured
  EXPECT_TRUE(r.devices[0].peak.from_cache);
  EXPECT_NE(progress.str().find("cpu square elements=1048576: "), std::string::npos) << progress.str();

  const std::vector<std::string> lines = split(sweep_csv(r), '\n');
  ASSERT_EQ(lines[0], "device,op,size,seconds,min_seconds,gflops,gbps,runs");
  ASSERT_EQ(lines.size(), 1 + sweep_sizes(SweepOp::square, Device::cpu(), int64_t{1} << 20).size() +
                              sweep_sizes(SweepOp::matmul, Device::cpu(), 256).size());
  std::map<std::string, std::vector<std::pair<int64_t, double>>> by_op;  // size, seconds
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> f = split(lines[i], ',');
    ASSERT_EQ(f.size(), 8u) << lines[i];
    EXPECT_EQ(f[0], "cpu");
    const double seconds = std::stod(f[3]), min_seconds = std::stod(f[4]);
    EXPECT_GT(seconds, 0) << lines[i];
    EXPECT_LE(min_seconds, seconds) << lines[i];
    EXPECT_GT(std::stod(f[5]), 0) << lines[i];  // GFLOP/s
    EXPECT_GT(std::stod(f[6]), 0) << lines[i];  // GB/s
    EXPECT_GE(std::stoi(f[7]), options_.min_runs) << lines[i];
    by_op[f[1]].emplace_back(std::stoll(f[2]), seconds);
  }
  ASSERT_EQ(by_op.size(), 2u);
  for (const auto& [op, points] : by_op) {
    // Robust to noise: the largest problem (1024x the data, 512x the FLOPs of the smallest)
    // against the smallest, not neighbours.
    EXPECT_LT(points.front().first, points.back().first);
    EXPECT_GT(points.back().second, points.front().second) << op;
  }
}

TEST_F(SweepRunTest, ConvPointUsesTheCostModel) {
  options_.ops = {SweepOp::conv};
  options_.max_size = 2;
  const SweepResult r = run_sweep(options_);
  ASSERT_EQ(r.points.size(), 2u);
  // conv2 of the MNIST CNN: 2 * 64 * 24 * 24 * 32 * 9 FLOPs per image.
  EXPECT_DOUBLE_EQ(r.points[0].flops, 2.0 * 64 * 24 * 24 * 32 * 9);
  EXPECT_DOUBLE_EQ(r.points[1].flops, 2 * r.points[0].flops);
}

TEST_F(SweepRunTest, MaxSizeBelowTheSmallestIsAnError) {
  options_.ops = {SweepOp::matmul};
  options_.max_size = 16;
  EXPECT_EQ(testing::error_of<ValueError>([&] { run_sweep(options_); }),
            "[bench] --max-size 16 leaves no size to sweep for matmul (the smallest is 32)");
}

TEST_F(SweepRunTest, GpuWithoutDeviceSaysWhy) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  options_.devices = {Device::cuda(0)};
  EXPECT_EQ(testing::error_of<DeviceError>([&] { run_sweep(options_); }), cuda_unavailable_reason());
}

// Hand-made results: two devices, a memory-bound op, known numbers.
SweepResult made_up_result() {
  SweepResult r;
  r.devices.push_back({Device::cpu(), "cpu (2 threads)", {"k", "R&D CPU <fast>", 400, 20, false}});
  r.devices.push_back({Device::cuda(0), "cuda:0 (Test GPU)", {"g", "Test GPU", 60000, 3000, false}});
  for (const SweepDevice& d : r.devices) {
    for (int64_t n = 256; n <= 4096; n *= 2) {
      SweepPoint p{d.device, SweepOp::matmul, n};
      p.flops = 2.0 * n * n * n;
      p.bytes = 12.0 * n * n;
      p.median_s = p.flops / (d.device.is_cpu() ? (n >= 1024 ? 200e9 : 50e9) : 30e12);
      p.min_s = p.median_s;
      p.runs = 3;
      r.points.push_back(p);
    }
    for (int64_t n = 1024; n <= (int64_t{1} << 20); n *= 4) {
      SweepPoint p{d.device, SweepOp::square, n};
      p.flops = static_cast<double>(n);
      p.bytes = 8.0 * static_cast<double>(n);
      p.median_s = p.bytes / 10e9 + 5e-6;
      p.min_s = p.median_s;
      p.runs = 3;
      r.points.push_back(p);
    }
  }
  return r;
}

TEST(SweepChart, TwoPanelsPerOpOneLinePerDeviceWithCeilings) {
  const std::string svg = sweep_svg(made_up_result(), "test chart");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<polyline"), 2u * 2u * 2u);  // 2 ops x 2 panels x 2 devices
  EXPECT_EQ(count_of(svg, "time per run"), 2u);
  // The FMA peaks, dashed, on each op's GFLOP/s panel.
  EXPECT_EQ(count_of(svg, "cpu peak 400 GFLOP/s"), 2u);
  EXPECT_EQ(count_of(svg, "cuda:0 peak 60000 GFLOP/s"), 2u);
  // square (1/8 FLOP per byte) is below both ridges: bandwidth x intensity, dotted.
  EXPECT_NE(svg.find("cpu memory bound 2.5 GFLOP/s (20.0 GB/s)"), std::string::npos);
  EXPECT_NE(svg.find("cuda:0 memory bound 375 GFLOP/s (3000.0 GB/s)"), std::string::npos);
  EXPECT_EQ(count_of(svg, "memory bound"), 2u);  // not for matmul, above the ridge
  // Device names are escaped.
  EXPECT_NE(svg.find("R&amp;D CPU &lt;fast&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("R&D"), std::string::npos);
}

TEST(SweepChart, PlotsOnlyTheOpsPresent) {
  SweepResult r = made_up_result();
  std::erase_if(r.points, [](const SweepPoint& p) { return p.op != SweepOp::square || !p.device.is_cpu(); });
  r.devices.pop_back();
  const std::string svg = sweep_svg(r, "square on the CPU");
  EXPECT_EQ(count_of(svg, "<polyline"), 2u);
  EXPECT_EQ(svg.find("matmul"), std::string::npos);
}

TEST(SweepSummary, PlateauAgainstThePeaks) {
  const std::string s = sweep_summary(made_up_result());
  // CPU matmul: 200 GFLOP/s at N >= 1024 (a quarter of 4096 and up), 50% of 400.
  EXPECT_NE(s.find("cpu matmul plateau (N >= 1024): 200.0 GFLOP/s = 50% of the 400 GFLOP/s peak"), std::string::npos)
      << s;
  EXPECT_NE(s.find("cuda:0 matmul plateau (N >= 1024): 30000.0 GFLOP/s = 50% of the 60000 GFLOP/s peak"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("cpu square plateau (elements >= 262144)"), std::string::npos) << s;
}

}  // namespace
}  // namespace dagrad::bench
