// The critical path, slack and what-if replays on hand-made schedules with known
// answers, then on recorded runs of a small two-stream plan.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "profiler/critical_path.h"
#include "profiler/profiler.h"
#include "profiler/replay.h"
#include "profiler/what_if.h"
#include "scheduler/compile.h"

namespace dagrad::profiler {
namespace {

using scheduler::ExecutionPlan;
using scheduler::Step;
using scheduler::StepKind;

ScheduleTask task(int stream, double duration, std::vector<int> deps, double lag = 0) {
  return ScheduleTask{-1, stream, duration, lag, std::move(deps)};
}

// Two streams:  stream 0: A(2) -> B(3) -> D(1);  stream 1: C(1), after A (an event),
// and D waits for C (an event). A, B, D are critical (6); C could start 2 later.
std::vector<ScheduleTask> two_streams() {
  return {task(0, 2, {}), task(0, 3, {0}), task(1, 1, {0}), task(0, 1, {1, 2})};
}

TEST(CriticalPath, TwoStreamsKnownAnswer) {
  const ScheduleAnalysis a = analyze_schedule(two_streams());
  EXPECT_DOUBLE_EQ(a.makespan, 6);
  EXPECT_EQ(a.path, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(a.on_path, (std::vector<bool>{true, true, false, true}));
  const double start[] = {0, 2, 2, 5}, slack[] = {0, 0, 2, 0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(a.times[i].start, start[i]) << i;
    EXPECT_DOUBLE_EQ(a.times[i].slack(), slack[i]) << i;
  }
  EXPECT_DOUBLE_EQ(a.times[2].latest_start, 4);
  EXPECT_DOUBLE_EQ(a.times[2].latest_finish, 5);
}

TEST(CriticalPath, LagsDelayTheirTaskAndLeaveSlackAlone) {
  std::vector<ScheduleTask> t = two_streams();
  t[3].lag = 0.5;  // D starts half a unit after its last dependency
  t[2].lag = 1;    // C starts a unit after A
  const ScheduleAnalysis a = analyze_schedule(t);
  EXPECT_DOUBLE_EQ(a.makespan, 6.5);
  EXPECT_DOUBLE_EQ(a.times[2].start, 3);
  EXPECT_DOUBLE_EQ(a.times[2].slack(), 1);  // C may finish by 5 (D's latest start minus its lag)
  EXPECT_EQ(a.path, (std::vector<int>{0, 1, 3}));
}

TEST(CriticalPath, PathCrossesStreamsWhenTheEventDecides) {
  std::vector<ScheduleTask> t = two_streams();
  t[2].duration = 5;  // C now ends at 7, after B
  const ScheduleAnalysis a = analyze_schedule(t);
  EXPECT_DOUBLE_EQ(a.makespan, 8);
  EXPECT_EQ(a.path, (std::vector<int>{0, 2, 3}));
  EXPECT_DOUBLE_EQ(a.times[1].slack(), 2);
}

TEST(CriticalPath, DependenciesMustPointBackwards) {
  EXPECT_THROW(analyze_schedule({task(0, 1, {1}), task(0, 1, {})}), ValueError);
  EXPECT_THROW(replay_schedule({task(0, 1, {0})}, 1), ValueError);
  EXPECT_THROW(replay_schedule({task(0, 1, {})}, 0), ValueError);
  EXPECT_DOUBLE_EQ(analyze_schedule({}).makespan, 0);
}

TEST(Replay, UnchangedDurationsReproduceTheSchedule) {
  std::vector<ScheduleTask> t = two_streams();
  t[3].lag = 0.25;
  const ScheduleAnalysis a = analyze_schedule(t);
  const ReplayResult r = replay_schedule(t, kUnboundedCapacity);
  EXPECT_DOUBLE_EQ(r.makespan, a.makespan);
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_DOUBLE_EQ(r.start[i], a.times[i].start) << i;
    EXPECT_DOUBLE_EQ(r.finish[i], a.times[i].finish) << i;
  }
}

TEST(Replay, AnOffPathTaskChangesNothingUntilItsSlackIsUsed) {
  for (double c_duration : {0.5, 1.0, 2.0, 3.0}) {  // C's slack is 2: up to 3 fits
    std::vector<ScheduleTask> t = two_streams();
    t[2].duration = c_duration;
    EXPECT_DOUBLE_EQ(replay_schedule(t, kUnboundedCapacity).makespan, 6) << c_duration;
  }
  std::vector<ScheduleTask> t = two_streams();
  t[2].duration = 4;  // one past its slack
  EXPECT_DOUBLE_EQ(replay_schedule(t, kUnboundedCapacity).makespan, 7);
  t = two_streams();
  t[1].duration = 1.5;  // B, on the path, twice as fast
  EXPECT_DOUBLE_EQ(replay_schedule(t, kUnboundedCapacity).makespan, 4.5);
}

TEST(Replay, ConcurrentTasksShareTheCapacity) {
  // Two independent tasks of 2 on two streams: side by side without sharing, one after
  // the other's worth of time when they share one machine.
  const std::vector<ScheduleTask> t = {task(0, 2, {}), task(1, 2, {})};
  EXPECT_DOUBLE_EQ(replay_schedule(t, kUnboundedCapacity).makespan, 2);
  EXPECT_DOUBLE_EQ(replay_schedule(t, 1).makespan, 4);
  EXPECT_DOUBLE_EQ(replay_schedule(t, 2).makespan, 2);
  // 3 and 1 sharing: both at half speed until the short one ends at 2, then the long one
  // alone for its last 2 units of work.
  const ReplayResult r = replay_schedule({task(0, 3, {}), task(1, 1, {})}, 1);
  EXPECT_DOUBLE_EQ(r.finish[1], 2);
  EXPECT_DOUBLE_EQ(r.finish[0], 4);
}

TEST(Replay, StandaloneWorkUndoesTheSharing) {
  // Measured: A on stream 0 ran 0..10, B on stream 1 ran 2..6 beside it.
  const std::vector<ScheduleTask> measured = {task(0, 10, {}), task(1, 4, {}, 2)};
  EXPECT_EQ(standalone_work(measured, kUnboundedCapacity), (std::vector<double>{10, 4}));
  const std::vector<double> work = standalone_work(measured, 1);
  EXPECT_DOUBLE_EQ(work[0], 8);  // 2 alone + 4 shared at half speed + 4 alone
  EXPECT_DOUBLE_EQ(work[1], 2);
  // Replaying the work on the shared machine gives the measured run back.
  std::vector<ScheduleTask> replay = measured;
  replay[0].duration = work[0], replay[1].duration = work[1];
  const ReplayResult r = replay_schedule(replay, 1);
  EXPECT_DOUBLE_EQ(r.finish[0], 10);
  EXPECT_DOUBLE_EQ(r.start[1], 2);
  EXPECT_DOUBLE_EQ(r.finish[1], 6);
}

// A plan made by hand: kernels 0 and 2 on stream 0, kernel 4 on stream 1 after event 0
// (recorded after kernel 0), kernel 7 on stream 0 after event 1 (after kernel 4).
ExecutionPlan hand_made_plan() {
  ExecutionPlan plan;
  plan.num_streams = 2;
  auto add = [&](StepKind kind, int stream, int event = -1) {
    Step s;
    s.index = static_cast<int>(plan.steps.size());
    s.kind = kind;
    s.stream = stream;
    s.event = event;
    plan.steps.push_back(s);
  };
  add(StepKind::kernel, 0);
  add(StepKind::record, 0, 0);
  add(StepKind::kernel, 0);
  add(StepKind::wait, 1, 0);
  add(StepKind::kernel, 1);
  add(StepKind::record, 1, 1);
  add(StepKind::wait, 0, 1);
  add(StepKind::kernel, 0);
  plan.events = {{0, 0, 1, 0, {3}}, {1, 1, 5, 4, {6}}};
  return plan;
}

TEST(CriticalPath, DependenciesAreStreamOrderAndEvents) {
  const std::vector<StepDependencies> d = step_dependencies(hand_made_plan());
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].step, 0);
  EXPECT_TRUE(d[0].deps.empty());
  EXPECT_EQ(d[1].step, 2);
  EXPECT_EQ(d[1].deps, std::vector<int>{0});
  EXPECT_EQ(d[2].step, 4);
  EXPECT_EQ(d[2].deps, std::vector<int>{0});
  EXPECT_EQ(d[3].step, 7);
  EXPECT_EQ(d[3].deps, (std::vector<int>{2, 4}));
}

TEST(CriticalPath, RunScheduleKeepsMeasuredTimes) {
  const ExecutionPlan plan = hand_made_plan();
  Profile p;
  p.plan = &plan;
  // Run starts at 100; kernel 0 at +0.1 for 2, kernel 2 at +2.2 for 3, kernel 4 (stream 1)
  // at +2.5 for 1, kernel 7 at +5.3 for 1; the run ends at +6.5.
  p.steps = {{0, 0, 0, 100.1, 102.1}, {0, 2, 0, 102.2, 105.2}, {0, 4, 1, 102.5, 103.5}, {0, 7, 0, 105.3, 106.3}};
  p.runs = {{100, 106.5, true}};
  const RunSchedule rs = run_schedule(p, 0);
  ASSERT_EQ(rs.tasks.size(), 4u);
  const double lag[] = {0.1, 0.1, 0.4, 0.1};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(rs.tasks[i].lag, lag[i], 1e-9) << i;
  EXPECT_NEAR(rs.tail, 0.2, 1e-9);
  EXPECT_NEAR(rs.wall, 6.5, 1e-12);
  const ScheduleAnalysis a = analyze_schedule(rs.tasks);
  EXPECT_NEAR(a.times[3].start, 5.3, 1e-9);
  EXPECT_NEAR(rs.wall_of(a), 6.5, 1e-9);
  EXPECT_EQ(a.path, (std::vector<int>{0, 1, 3}));
  EXPECT_NEAR(a.times[2].slack(), 5.2 - 3.5, 1e-9);
  EXPECT_THROW(run_schedule(p, 1), ValueError);
}

TEST(WhatIf, ParsesOpOrKindAndFactor) {
  WhatIf w = parse_what_if("conv2d=2");
  EXPECT_EQ(w.target, "conv2d");
  EXPECT_DOUBLE_EQ(w.factor, 2);
  EXPECT_EQ(parse_what_if("fused[add+relu]=0.5").target, "fused[add+relu]");
  EXPECT_EQ(w.text(), "conv2d=2");
  for (const char* bad : {"conv2d", "=2", "conv2d=", "conv2d=fast", "conv2d=0", "conv2d=-1", "conv2d=2x", "x=inf"})
    EXPECT_THROW(parse_what_if(bad), ValueError) << bad;
}

// relu(x·w1) and sigmoid(x·w2): independent branches on two streams, joined at the end.
struct TwoBranches {
  Graph g;
  std::vector<Value> outputs;
  TwoBranches() {
    Value x = g.input("x", Shape{16, 32});
    Value a = relu(matmul(x, g.input("w1", Shape{32, 24})));
    Value b = sigmoid(matmul(x, g.input("w2", Shape{32, 24})));
    outputs = {sum(a * b + 1.0)};
  }
  ExecutionPlan compile(int streams) {
    scheduler::CompileOptions o;
    o.num_streams = streams;
    o.fuse = false;
    return scheduler::compile(g, outputs, o);
  }
};

// One run: every compute step takes `duration(step)` after its dependencies, plus 0.1 ms.
Profile timed_profile(const ExecutionPlan& plan, const std::function<double(const Step&)>& duration) {
  Profile p;
  p.plan = &plan;
  std::vector<double> finish(plan.steps.size(), 0);
  double end = 0;
  for (const StepDependencies& d : step_dependencies(plan)) {
    double ready = 0;
    for (int dep : d.deps) ready = std::max(ready, finish[dep]);
    const Step& s = plan.steps[d.step];
    finish[d.step] = ready + 1e-4 + duration(s);
    p.steps.push_back(StepRecord{0, s.index, s.stream, 50 + ready + 1e-4, 50 + finish[d.step]});
    end = std::max(end, finish[d.step]);
  }
  std::sort(p.steps.begin(), p.steps.end(), [](auto& a, auto& b) { return a.start_s < b.start_s; });
  p.runs.push_back(RunRecord{50, 50 + end + 3e-4, true});
  return p;
}

TEST(WhatIf, ReplaysTheRecordedRun) {
  TwoBranches t;
  const ExecutionPlan plan = t.compile(2);
  const Graph& g = *plan.graph;
  // Matmuls 5 ms, everything else 1 ms.
  Profile p =
      timed_profile(plan, [&](const Step& s) { return g.node(s.nodes[0]).op_name() == "matmul" ? 5e-3 : 1e-3; });
  const double wall = p.runs[0].seconds();
  for (double capacity : {kUnboundedCapacity, 1.0}) {
    // Factor 1 gives the measured run back.
    WhatIfResult same = what_if(p, {{"matmul", 1}}, capacity);
    EXPECT_NEAR(same.predicted_wall, wall, 1e-9);
    EXPECT_EQ(same.steps, 0);
    WhatIfResult faster = what_if(p, {{"gemm", 5}}, capacity);  // by kind
    EXPECT_EQ(faster.steps, 2);
    EXPECT_NEAR(faster.step_seconds, 10e-3, 1e-9);
    EXPECT_LT(faster.predicted_wall, wall - 3e-3);
    EXPECT_NEAR(faster.measured_wall, wall, 1e-12);
  }
  // Unbounded: the two matmuls ran side by side; both 5x faster save 4 ms.
  EXPECT_NEAR(what_if(p, {{"gemm", 5}}, kUnboundedCapacity).predicted_wall, wall - 4e-3, 1e-9);
  std::string text = what_if_text({what_if(p, {{"matmul", 2}, {"relu", 1}}, 1)});
  EXPECT_NE(text.find("what-if matmul=2 relu=1: 2 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("the run would take"), std::string::npos);
}

TEST(WhatIf, MatchesLabelsKindsAndOps) {
  TwoBranches t;
  const ExecutionPlan plan = t.compile(1);
  int matmuls = 0, elementwise = 0;
  for (const Step& s : plan.steps) {
    if (!s.is_compute()) continue;
    const StepInfo info = describe_step(plan, s);
    matmuls += what_if_matches("matmul", info, *plan.graph);
    elementwise += what_if_matches("elementwise", info, *plan.graph);
    EXPECT_TRUE(what_if_matches(info.label, info, *plan.graph));
  }
  EXPECT_EQ(matmuls, 2);
  EXPECT_GE(elementwise, 3);  // relu, sigmoid, mul, add
  EXPECT_NO_THROW(check_what_ifs(plan, {{"matmul", 2}, {"gemm", 2}}));
  try {
    check_what_ifs(plan, {{"conv2d", 2}});
    FAIL() << "conv2d is not in this plan";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'conv2d' names no step of this plan; kinds: "), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("matmul"), std::string::npos);
  }
}

TEST(WhatIf, PredictsAnotherPlanOfTheSameGraph) {
  TwoBranches t;
  const ExecutionPlan one = t.compile(1), two = t.compile(2);
  const Graph& g = t.g;
  auto duration = [&](const Step& s) { return g.node(s.nodes[0]).op_name() == "matmul" ? 5e-3 : 1e-3; };
  Profile p1 = timed_profile(one, duration), p2 = timed_profile(two, duration);
  // Onto itself: the measured run.
  EXPECT_NEAR(what_if_plan(p1, one, "streams=1", 1).predicted_wall, p1.runs[0].seconds(), 1e-9);
  // One stream to two: without sharing, the independent matmuls overlap; sharing one
  // machine, they cannot gain.
  const double predicted = what_if_plan(p1, two, "streams=2", kUnboundedCapacity).predicted_wall;
  EXPECT_NEAR(predicted, p2.runs[0].seconds(), 1e-9);
  EXPECT_LT(predicted, p1.runs[0].seconds() - 4e-3);
  // Sharing: only the dispatch gaps (0.1 ms a step) can overlap.
  const double shared = what_if_plan(p1, two, "streams=2", 1).predicted_wall;
  EXPECT_GT(shared, p1.runs[0].seconds() - 1e-3);
  EXPECT_GT(shared, predicted + 3e-3);
  // A plan of another graph has nodes the profile never ran.
  TwoBranches other;
  other.outputs = {sum(other.outputs[0] * 3.0)};
  const ExecutionPlan bigger = other.compile(1);
  EXPECT_THROW(what_if_plan(p1, bigger, "other", 1), ValueError);
}

TEST(CriticalPath, SummaryTextMarksThePath) {
  TwoBranches t;
  const ExecutionPlan plan = t.compile(2);
  Profile p = timed_profile(plan, [](const Step&) { return 1e-3; });
  ReportOptions o;
  o.what_ifs = {{"matmul", 2}};
  o.other_plans = {{"streams=1", &plan}};
  const std::string text = summary_text(p, o);
  for (const char* want : {"critical path of run 0 (the median): ", "slack ms", "what-if matmul=2: 2 steps",
                           "what-if streams=1: ", " * "})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  const std::string none = critical_path_text(Profile{&plan, {}, {}});
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace dagrad::profiler
