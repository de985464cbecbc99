// machine_peaks: the measurements answer, and the cache (memory and file) returns what
// was measured, survives a corrupt file, and is keyed by CPU model and thread count.
#include "profiler/machine_peaks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../error_of.h"
#include "profiler/machine_peaks_cuda.h"
#include "runtime/backend.h"
#include "runtime/error.h"

namespace dagrad::profiler {
namespace {

namespace fs = std::filesystem;

class MachinePeaksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           str_cat("dagrad_peaks_", ::getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    clear_peak_memory_cache();
  }
  void TearDown() override {
    fs::remove_all(dir_);
    clear_peak_memory_cache();
  }
  PeakCacheOptions cache() const { return {dir_ / "machine_peaks.json", false}; }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::string key(int threads) {
    return str_cat(cpu_model_name(), " | ", threads, threads == 1 ? " thread" : " threads");
  }
  void write_entry(int threads, double gflops, double gbps) const {
    nlohmann::json j = {
        {"format", "dagrad machine peaks"},
        {"version", 1},
        {"peaks", {{key(threads), {{"description", "hand-written"}, {"gflops", gflops}, {"gbps", gbps}}}}}};
    std::ofstream(cache().file) << j.dump();
  }
  fs::path dir_;
};

TEST(MachinePeaksMeasure, CpuMeasurementsArePositive) {
  const double gflops = measure_cpu_fma_gflops(1, 0.02);
  const double gbps = measure_cpu_triad_gbps(1, 0.02);
  EXPECT_TRUE(std::isfinite(gflops) && gflops > 0) << gflops;
  EXPECT_TRUE(std::isfinite(gbps) && gbps > 0) << gbps;
}

TEST(MachinePeaksMeasure, RejectsThreadCountsBelowOne) {
  EXPECT_EQ(testing::error_of<ValueError>([] { measure_cpu_fma_gflops(0); }),
            "[machine peaks] thread count must be at least 1, got 0");
  EXPECT_EQ(testing::error_of<ValueError>([] {
              cpu_peak(-2, {{}, false});
            }),
            "[machine peaks] thread count must be at least 1, got -2");
}

TEST(MachinePeaksMeasure, CpuModelIsNamed) { EXPECT_FALSE(cpu_model_name().empty()); }

// A stand-in measurement: counts its calls and reports fixed peaks.
struct FakeMeasure {
  int calls = 0;
  double gflops = 100, gbps = 20;
  std::function<void(MachinePeak&)> fn() {
    return [this](MachinePeak& p) {
      ++calls;
      p.gflops = gflops;
      p.gbps = gbps;
    };
  }
};

TEST_F(MachinePeaksTest, MeasuresOnceThenAnswersFromMemoryAndFile) {
  FakeMeasure m;
  const MachinePeak first = cached_peak("box | 4 threads", "box, 4 threads", cache(), m.fn());
  EXPECT_EQ(m.calls, 1);
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(first.gflops, 100);
  EXPECT_EQ(first.ridge_flops_per_byte(), 5);

  const MachinePeak again = cached_peak("box | 4 threads", "box, 4 threads", cache(), m.fn());  // from memory
  EXPECT_EQ(m.calls, 1);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.gbps, 20);

  const nlohmann::json file = nlohmann::json::parse(read(cache().file));
  EXPECT_EQ(file["format"], "dagrad machine peaks");
  EXPECT_EQ(file["peaks"]["box | 4 threads"]["gflops"].get<double>(), 100);
  EXPECT_EQ(file["peaks"]["box | 4 threads"]["description"], "box, 4 threads");

  clear_peak_memory_cache();
  const MachinePeak from_file = cached_peak("box | 4 threads", "box, 4 threads", cache(), m.fn());
  EXPECT_EQ(m.calls, 1);
  EXPECT_TRUE(from_file.from_cache);
  EXPECT_EQ(from_file.gflops, 100);
  EXPECT_EQ(from_file.gbps, 20);

  // Another key is measured and added; the first stays.
  cached_peak("box | 8 threads", "box, 8 threads", cache(), m.fn());
  EXPECT_EQ(m.calls, 2);
  const nlohmann::json both = nlohmann::json::parse(read(cache().file));
  EXPECT_TRUE(both["peaks"].contains("box | 4 threads"));
  EXPECT_TRUE(both["peaks"].contains("box | 8 threads"));
}

TEST_F(MachinePeaksTest, RemeasureReplacesTheCachedValue) {
  FakeMeasure m;
  cached_peak("box", "box", cache(), m.fn());
  m.gflops = 300;
  PeakCacheOptions o = cache();
  o.remeasure = true;
  const MachinePeak p = cached_peak("box", "box", o, m.fn());
  EXPECT_EQ(m.calls, 2);
  EXPECT_FALSE(p.from_cache);
  EXPECT_EQ(p.gflops, 300);
  EXPECT_EQ(nlohmann::json::parse(read(o.file))["peaks"]["box"]["gflops"].get<double>(), 300);
  EXPECT_EQ(cached_peak("box", "box", cache(), m.fn()).gflops, 300);  // and in memory
}

TEST_F(MachinePeaksTest, CorruptFileIsIgnoredAndRewritten) {
  for (const char* text : {"{ not json", "[1, 2, 3]", R"({"format": "dagrad machine peaks", "peaks": 7})",
                           R"({"format": "something else", "peaks": {"box": {"gflops": 1, "gbps": 1}}})"}) {
    clear_peak_memory_cache();
    std::ofstream(cache().file) << text;
    FakeMeasure m;
    const MachinePeak p = cached_peak("box", "box", cache(), m.fn());
    EXPECT_EQ(m.calls, 1) << text;
    EXPECT_FALSE(p.from_cache) << text;
    const nlohmann::json file = nlohmann::json::parse(read(cache().file));  // valid again
    EXPECT_EQ(file["peaks"]["box"]["gflops"].get<double>(), 100) << text;
  }
}

TEST_F(MachinePeaksTest, UnusableEntryIsMeasuredAgainOthersKept) {
  nlohmann::json j = {{"format", "dagrad machine peaks"},
                      {"version", 1},
                      {"peaks",
                       {{"box", {{"gflops", -5.0}, {"gbps", 10.0}}},
                        {"other", {{"gflops", 1.0}, {"gbps", 2.0}}},
                        {"text", {{"gflops", "fast"}, {"gbps", 2.0}}}}}};
  std::ofstream(cache().file) << j.dump();
  FakeMeasure m;
  EXPECT_FALSE(cached_peak("box", "box", cache(), m.fn()).from_cache);
  EXPECT_FALSE(cached_peak("text", "text", cache(), m.fn()).from_cache);
  EXPECT_EQ(m.calls, 2);
  const MachinePeak other = cached_peak("other", "other", cache(), m.fn());
  EXPECT_TRUE(other.from_cache);
  EXPECT_EQ(other.gbps, 2.0);
}

TEST_F(MachinePeaksTest, UnwritableCacheIsNotAnError) {
  std::ofstream(dir_ / "a_file") << "x";
  PeakCacheOptions o{dir_ / "a_file" / "machine_peaks.json", false};  // its parent is a file
  FakeMeasure m;
  EXPECT_EQ(cached_peak("box", "box", o, m.fn()).gflops, 100);
  EXPECT_FALSE(fs::exists(o.file));
}

TEST_F(MachinePeaksTest, FailedMeasurementStoresNothing) {
  auto failing = [](MachinePeak&) { throw DeviceError("lost the device"); };
  EXPECT_EQ(testing::error_of<DeviceError>([&] { cached_peak("box", "box", cache(), failing); }), "lost the device");
  EXPECT_FALSE(fs::exists(cache().file));
  FakeMeasure m;
  cached_peak("box", "box", cache(), m.fn());
  EXPECT_EQ(m.calls, 1);
}

TEST_F(MachinePeaksTest, CpuPeakMeasuresThisMachineOnceAndKeysItsThreadCount) {
  const MachinePeak p = cpu_peak(1, cache());
  EXPECT_FALSE(p.from_cache);
  EXPECT_EQ(p.key, key(1));
  EXPECT_GT(p.gflops, 0);
  EXPECT_GT(p.gbps, 0);
  const nlohmann::json file = nlohmann::json::parse(read(cache().file));
  EXPECT_DOUBLE_EQ(file["peaks"][key(1)]["gbps"].get<double>(), p.gbps);
  EXPECT_TRUE(cpu_peak(1, cache()).from_cache);
  // A hand-written entry for another thread count is read, not measured.
  write_entry(3, 123.0, 45.0);
  clear_peak_memory_cache();
  const MachinePeak three = cpu_peak(3, cache());
  EXPECT_TRUE(three.from_cache);
  EXPECT_EQ(three.gflops, 123.0);
  EXPECT_EQ(three.description, "hand-written");
}

TEST(MachinePeaksDefaults, CacheFileFollowsXdgThenHome) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const std::string saved = xdg ? xdg : "";
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg-cache", 1);
  EXPECT_EQ(default_peak_cache_file(), fs::path("/tmp/xdg-cache/dagrad/machine_peaks.json"));
  ::unsetenv("XDG_CACHE_HOME");
  if (const char* home = std::getenv("HOME")) {
    EXPECT_EQ(default_peak_cache_file(), fs::path(home) / ".cache/dagrad/machine_peaks.json");
  }
  if (xdg) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
}

TEST(MachinePeaksCuda, Fp32LanesFollowTheComputeCapability) {
  EXPECT_EQ(detail::fp32_lanes_per_sm(7, 0), 64);   // V100
  EXPECT_EQ(detail::fp32_lanes_per_sm(8, 0), 64);   // A100
  EXPECT_EQ(detail::fp32_lanes_per_sm(8, 6), 128);  // RTX 30xx
  EXPECT_EQ(detail::fp32_lanes_per_sm(9, 0), 128);  // H100
}

TEST(MachinePeaksCuda, WithoutAGpuSaysWhy) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  const std::string msg = testing::error_of<DeviceError>([] { cuda_peak(0, {{}, false}); });
  EXPECT_EQ(msg, cuda_unavailable_reason());
  EXPECT_FALSE(msg.empty());
}

TEST(MachinePeaksCuda, GpuPeakFromPropertiesAndCopy) {
  if (!cuda_available()) GTEST_SKIP() << cuda_unavailable_reason();
  const MachinePeak p = cuda_peak(0, {{}, true});
  EXPECT_GT(p.gflops, 1000);  // any CUDA GPU of this decade: > 1 TFLOP/s float32
  EXPECT_GT(p.gbps, 10);
}

}  // namespace
}  // namespace dagrad::profiler
