// Profiles real MNIST CNN training steps (random data, small batch) through the library
// API, as `dagrad profile` does, and checks the trace against the plan and the clock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/op_def.h"
#include "profiler/chrome_trace.h"
#include "profiler/critical_path.h"
#include "profiler/profiler.h"
#include "profiler/what_if.h"
#include "runtime/rng.h"
#include "scheduler/session.h"

namespace dagrad::profiler {
namespace {

using nlohmann::json;
using scheduler::ExecutionPlan;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Case {
  int streams;
  bool fuse;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return str_cat(info.param.streams, "streams_", info.param.fuse ? "fused" : "unfused");
}

class TrainingProfile : public ::testing::TestWithParam<Case> {
 protected:
  static constexpr int64_t kBatch = 4;
  static constexpr int kWarmup = 1, kRuns = 3;

  void SetUp() override {
    TrainConfig cfg;
    cfg.model_name = "mnist-cnn";
    cfg.batch_size = kBatch;
    cfg.progress = false;
    cfg.compile.num_streams = GetParam().streams;
    cfg.compile.fuse = GetParam().fuse;
    trainer_ = std::make_unique<Trainer>(models::mnist_cnn(), cfg, log_);
    Tensor images = Tensor::empty(Shape{kBatch, 1, 28, 28});
    Generator gen(7);
    fill_normal(images, gen, 0, 1);
    Tensor labels = Tensor::empty(Shape{kBatch}, DType::i64);
    for (int64_t i = 0; i < kBatch; ++i) labels.data<int64_t>()[i] = (i * 3) % 10;
    inputs_ = {{"images", images}, {"labels", labels}, {"lr", Tensor::full(Shape{}, 0.01)}};
    scheduler::Session& session = trainer_->train_session();
    for (int i = 0; i < kWarmup; ++i) session.run(inputs_);
    prof_ = std::make_unique<Profiler>(session, inputs_);
    for (int i = 0; i < kRuns; ++i) {
      double t0 = now_s();
      prof_->run([&] { session.run(inputs_); });
      wall_.push_back(now_s() - t0);
    }
    trace_ = json::parse(prof_->to_chrome_trace());
  }

  const ExecutionPlan& plan() const { return prof_->plan(); }

  // The step events of the trace (cat "run" marks the host's run spans, "critical" the
  // copies on the critical path's track).
  std::vector<json> step_events() const {
    std::vector<json> out;
    for (const json& e : trace_.at("traceEvents"))
      if (e.at("ph") == "X" && e.at("cat") != "run" && e.at("cat") != "critical") out.push_back(e);
    return out;
  }

  std::ostringstream log_;
  std::unique_ptr<Trainer> trainer_;
  TensorMap inputs_;
  std::unique_ptr<Profiler> prof_;
  std::vector<double> wall_;  // measured here, around each profiled call
  json trace_;
};

TEST_P(TrainingProfile, EveryComputeStepAppearsOncePerRun) {
  std::map<std::pair<int, int>, int> seen;  // (run, step) -> count
  for (const json& e : step_events()) {
    int step = e.at("args").at("step"), run = e.at("args").at("run");
    ASSERT_TRUE(plan().steps.at(step).is_compute());
    EXPECT_EQ(e.at("args").at("stream").get<int>(), plan().steps[step].stream);
    EXPECT_EQ(e.at("tid").get<int>(), stream_tid(plan().steps[step].stream));
    ++seen[{run, step}];
  }
  for (int r = 0; r < kRuns; ++r)
    for (const scheduler::Step& s : plan().steps)
      if (s.is_compute()) {
        EXPECT_EQ((seen[{r, s.index}]), 1) << "run " << r << " step " << s.index;
      }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRuns * plan().num_kernels()));
}

TEST_P(TrainingProfile, EventsOnOneStreamDoNotOverlap) {
  std::map<int, std::vector<std::pair<double, double>>> by_tid;
  for (const json& e : step_events()) {
    double ts = e.at("ts"), dur = e.at("dur");
    EXPECT_GE(dur, 0);
    by_tid[e.at("tid")].emplace_back(ts, ts + dur);
  }
  EXPECT_EQ(by_tid.size(), static_cast<size_t>(GetParam().streams));
  for (auto& [tid, spans] : by_tid) {
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i)
      EXPECT_LE(spans[i - 1].second, spans[i].first + 1e-3) << "tid " << tid << " event " << i;
  }
}

TEST_P(TrainingProfile, StepTimePerStreamFitsInTheWallTime) {
  Profile p = prof_->profile();
  ASSERT_EQ(p.num_runs(), kRuns);
  for (int r = 0; r < kRuns; ++r) {
    EXPECT_TRUE(p.runs[r].measured);
    EXPECT_LE(p.runs[r].seconds(), wall_[r]);
    std::vector<double> busy(plan().num_streams, 0.0);
    for (const StepRecord& s : p.run_steps(r)) {
      busy[s.stream] += s.seconds();
      EXPECT_GE(s.start_s, p.runs[r].start_s);
      EXPECT_LE(s.end_s, p.runs[r].end_s);
    }
    for (int s = 0; s < plan().num_streams; ++s) EXPECT_LE(busy[s], wall_[r]) << "run " << r << " stream " << s;
  }
}

TEST_P(TrainingProfile, FlowsConnectProducersToStepsAfterTheirWaits) {
  // Step events by (tid, run) to find the slice that encloses a flow's binding point.
  std::vector<json> steps = step_events();
  auto enclosing = [&](int tid, double ts) -> const json* {
    for (const json& e : steps)
      if (e.at("tid") == tid && e.at("ts").get<double>() <= ts &&
          ts <= e.at("ts").get<double>() + e.at("dur").get<double>())
        return &e;
    return nullptr;
  };
  std::map<int, json> starts, finishes;
  for (const json& e : trace_.at("traceEvents")) {
    if (e.at("ph") == "s") starts[e.at("id")] = e;
    if (e.at("ph") == "f") finishes[e.at("id")] = e;
  }
  size_t expected = 0;
  for (const scheduler::EventInfo& ev : plan().events) expected += ev.wait_steps.size();
  EXPECT_EQ(starts.size(), expected * kRuns);
  EXPECT_EQ(starts.empty(), GetParam().streams == 1);
  EXPECT_EQ(starts.size(), finishes.size());
  for (const auto& [id, s] : starts) {
    ASSERT_TRUE(finishes.count(id)) << "flow " << id;
    const json& f = finishes[id];
    EXPECT_EQ(f.at("bp"), "e");
    const scheduler::EventInfo& ev = plan().events.at(f.at("args").at("event"));
    int wait = f.at("args").at("wait_step");
    const json* prod = enclosing(s.at("tid"), s.at("ts"));
    const json* cons = enclosing(f.at("tid"), f.at("ts"));
    ASSERT_TRUE(prod && cons) << "flow " << id << " binds to no step";
    EXPECT_EQ(prod->at("args").at("step").get<int>(), ev.producer_step);
    EXPECT_EQ(prod->at("args").at("run"), cons->at("args").at("run"));
    EXPECT_TRUE(std::find(ev.wait_steps.begin(), ev.wait_steps.end(), wait) != ev.wait_steps.end());
    int consumer = cons->at("args").at("step");
    EXPECT_GT(consumer, wait);
    EXPECT_EQ(plan().steps[consumer].stream, plan().steps[wait].stream);
    for (int i = wait + 1; i < consumer; ++i)  // the first compute step after the wait
      EXPECT_FALSE(plan().steps[i].stream == plan().steps[wait].stream && plan().steps[i].is_compute());
    EXPECT_NE(plan().steps[ev.producer_step].stream, plan().steps[wait].stream);
    // The event really ordered them.
    EXPECT_GE(cons->at("ts").get<double>() + 1e-3, prod->at("ts").get<double>() + prod->at("dur").get<double>());
  }
}

TEST_P(TrainingProfile, SummaryFlopsEqualTheCostModelOfThePlan) {
  const Graph& g = *plan().graph;
  double flops = 0;
  for (int id : plan().nodes) flops += g.node(id).op->cost_of(g.node(id)).flops;
  Summary s = prof_->summary();
  EXPECT_EQ(s.runs, kRuns);
  EXPECT_NEAR(s.flops, flops, 1e-9 * flops);
  EXPECT_GT(flops, 2.0 * kBatch * 64 * 24 * 24 * 32 * 9);  // at least the second conv's forward
  EXPECT_DOUBLE_EQ(s.calls, plan().num_kernels());
  bool any_fused = false;
  for (const SummaryRow& r : s.rows) any_fused |= r.op.find("fused[") != std::string::npos;
  EXPECT_EQ(any_fused, GetParam().fuse);
  EXPECT_NE(prof_->summary_table().find("conv2d_backward_weight"), std::string::npos);
}

TEST_P(TrainingProfile, CriticalPathExplainsEveryRun) {
  Profile p = prof_->profile();
  size_t path_steps = 0;
  for (int r = 0; r < kRuns; ++r) {
    const RunSchedule rs = run_schedule(p, r);
    const ScheduleAnalysis a = analyze_schedule(rs.tasks);
    ASSERT_EQ(rs.tasks.size(), static_cast<size_t>(plan().num_kernels()));
    EXPECT_NEAR(rs.wall_of(a), p.runs[r].seconds(), 1e-6) << "run " << r;
    // A chain: each step of the path waits for the one before it, and none has slack.
    ASSERT_FALSE(a.path.empty());
    for (size_t k = 0; k < a.path.size(); ++k) {
      const ScheduleTask& t = rs.tasks[a.path[k]];
      EXPECT_NEAR(a.times[a.path[k]].slack(), 0, 1e-9);
      if (k == 0)
        EXPECT_TRUE(t.deps.empty());
      else
        EXPECT_NE(std::find(t.deps.begin(), t.deps.end(), a.path[k - 1]), t.deps.end());
    }
    for (const TaskTimes& t : a.times) EXPECT_GE(t.slack(), -1e-9);
    path_steps += a.path.size();
  }
  // The trace marks the same steps and repeats them on the critical path's track.
  size_t marked = 0, on_track = 0;
  for (const json& e : trace_.at("traceEvents")) {
    if (e.at("ph") != "X") continue;
    if (e.at("cat") == "critical") {
      ++on_track;
      EXPECT_EQ(e.at("tid").get<int>(), kCriticalTid);
    } else if (e.at("cat") != "run") {
      marked += e.at("args").at("critical_path").get<bool>();
      EXPECT_GE(e.at("args").at("slack_us").get<double>(), 0);
    }
  }
  EXPECT_EQ(marked, path_steps);
  EXPECT_EQ(on_track, path_steps);
  // Replaying with nothing changed gives the median run back, shared machine or not.
  const double median = p.runs[p.median_run()].seconds();
  for (double capacity : {1.0, kUnboundedCapacity})
    EXPECT_NEAR(what_if(p, {{"conv", 1}}, capacity).predicted_wall, median, 1e-6);
  EXPECT_LT(what_if(p, {{"conv", 4}}, 1).predicted_wall, median);
}

TEST_P(TrainingProfile, WritesEveryReportFile) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      str_cat("dagrad_profile_test_", ::getpid(), "_", GetParam().streams, GetParam().fuse ? "f" : "u");
  std::filesystem::remove_all(dir);
  prof_->write_report(dir, "mnist-cnn");
  for (const char* f : {"trace.json", "summary.txt", "plan.txt", "plan.dot", "plan.json", "report.html"}) {
    ASSERT_TRUE(std::filesystem::exists(dir / f)) << f;
    EXPECT_GT(std::filesystem::file_size(dir / f), 100u) << f;
  }
  std::ifstream trace(dir / "trace.json"), plan_json(dir / "plan.json"), html(dir / "report.html");
  EXPECT_TRUE(json::accept(trace));
  EXPECT_TRUE(json::accept(plan_json));
  std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("stream 0"), std::string::npos);
  EXPECT_NE(page.find("class=\"step critical\""), std::string::npos);
  EXPECT_NE(page.find("<h2>Critical path</h2>"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  std::ifstream summary(dir / "summary.txt");
  std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("critical path of run "), std::string::npos);
  EXPECT_NE(text.find("slack ms"), std::string::npos);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(MnistCnn, TrainingProfile,
                         ::testing::Values(Case{1, true}, Case{1, false}, Case{2, true}, Case{2, false}), case_name);

}  // namespace
}  // namespace dagrad::profiler
