// The profiler's views of a small two-branch plan: step labels and costs, the memory
// timeline, the summary and the trace of hand-made records, and recording on and off.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ops/op_def.h"
#include "ops/ops.h"
#include "profiler/chrome_trace.h"
#include "profiler/html_report.h"
#include "profiler/profiler.h"
#include "scheduler/compile.h"

namespace dagrad::profiler {
namespace {

using scheduler::Buffer;
using scheduler::CompileOptions;
using scheduler::ExecutionPlan;
using scheduler::Step;
using scheduler::StepKind;

// relu(x·w1) and sigmoid(x·w2) are independent branches (two streams, events), joined
// by an elementwise tail that fuses.
struct TwoBranches {
  Graph g;
  std::vector<Value> outputs;
  TensorMap inputs;
  TwoBranches() {
    Value x = g.input("x", Shape{16, 32});
    Value w1 = g.input("w1", Shape{32, 24});
    Value w2 = g.input("w2", Shape{32, 24});
    Value a = relu(matmul(x, w1));
    Value b = sigmoid(matmul(x, w2));
    outputs = {sum(a * b + 1.0)};
    inputs = {{"x", Tensor::full(Shape{16, 32}, 0.5)},
              {"w1", Tensor::full(Shape{32, 24}, 0.25)},
              {"w2", Tensor::full(Shape{32, 24}, -0.125)}};
  }
  ExecutionPlan compile(int streams, bool fuse) {
    CompileOptions o;
    o.num_streams = streams;
    o.fuse = fuse;
    return scheduler::compile(g, outputs, o);
  }
};

double plan_flops(const ExecutionPlan& plan) {
  double f = 0;
  for (int id : plan.nodes) f += plan.graph->node(id).op->cost_of(plan.graph->node(id)).flops;
  return f;
}

TEST(ProfilerViews, StepLabelsNameOpsAndFusedMembers) {
  TwoBranches t;
  for (bool fuse : {false, true}) {
    ExecutionPlan plan = t.compile(1, fuse);
    double flops = 0;
    int fused_labels = 0;
    for (const Step& s : plan.steps) {
      if (!s.is_compute()) {
        EXPECT_THROW(describe_step(plan, s), ValueError);
        continue;
      }
      StepInfo si = describe_step(plan, s);
      flops += si.flops;
      EXPECT_GT(si.bytes, 0);
      EXPECT_EQ(si.nodes, s.nodes);
      const std::string& first_op = plan.graph->node(s.nodes[0]).op_name();
      if (s.kind == StepKind::fused) {
        EXPECT_TRUE(si.label.starts_with("fused[" + first_op)) << si.label;
        EXPECT_EQ(si.kind, StepClass::fused);
        ++fused_labels;
      } else if (s.nodes.size() > 1) {
        EXPECT_TRUE(si.label.starts_with(first_op + "+fused[")) << si.label;
        ++fused_labels;
      } else {
        EXPECT_EQ(si.label, first_op);
      }
    }
    EXPECT_DOUBLE_EQ(flops, plan_flops(plan));
    EXPECT_EQ(fused_labels > 0, fuse);
  }
}

TEST(ProfilerViews, MemoryTimelineSumsLiveArenaBuffers) {
  TwoBranches t;
  for (int streams : {1, 2}) {
    ExecutionPlan plan = t.compile(streams, true);
    MemoryTimeline m = memory_timeline(plan);
    ASSERT_EQ(m.live_bytes.size(), plan.steps.size());
    size_t bound = 0, peak = 0;
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      size_t live = 0;
      for (const Buffer& b : plan.buffers)
        if (b.kind == Buffer::Kind::arena && b.first_use >= 0 && b.first_use <= static_cast<int>(i) &&
            static_cast<int>(i) <= b.last_use)
          live += b.bytes;
      EXPECT_EQ(m.live_bytes[i], live) << "step " << i;
      peak = std::max(peak, live);
    }
    for (const Buffer& b : plan.buffers) bound += b.kind == Buffer::Kind::bound ? b.bytes : 0;
    EXPECT_EQ(m.peak_live_bytes, peak);
    EXPECT_EQ(m.live_bytes.at(m.peak_step), peak);
    EXPECT_LE(m.peak_live_bytes, m.arena_bytes);
    EXPECT_LE(m.arena_bytes, m.unplanned_bytes);
    EXPECT_EQ(m.bound_bytes, bound);
    EXPECT_NE(m.to_text(plan).find("peak live"), std::string::npos);
  }
}

// Hand-made records: one run, every compute step 1 ms after the other on its stream.
Profile fake_profile(const ExecutionPlan& plan) {
  Profile p;
  p.plan = &plan;
  std::vector<double> clock(plan.num_streams, 10.0);
  for (const Step& s : plan.steps) {
    if (!s.is_compute()) continue;
    p.steps.push_back(StepRecord{0, s.index, s.stream, clock[s.stream], clock[s.stream] + 1e-3});
    clock[s.stream] += 2e-3;
  }
  p.runs.push_back(RunRecord{10.0, *std::max_element(clock.begin(), clock.end()), true});
  return p;
}

TEST(ProfilerViews, SummaryOfHandMadeRecords) {
  TwoBranches t;
  ExecutionPlan plan = t.compile(1, false);
  Profile p = fake_profile(plan);
  Summary s = summarize(p);
  EXPECT_EQ(s.runs, 1);
  EXPECT_DOUBLE_EQ(s.calls, plan.num_kernels());
  EXPECT_NEAR(s.step_seconds, 1e-3 * plan.num_kernels(), 1e-12);
  EXPECT_DOUBLE_EQ(s.flops, plan_flops(plan));
  double share = 0;
  for (size_t i = 0; i < s.rows.size(); ++i) {
    share += s.rows[i].share;
    if (i > 0) {
      EXPECT_GE(s.rows[i - 1].seconds, s.rows[i].seconds);
    }
    EXPECT_NEAR(s.rows[i].mean_seconds(), 1e-3, 1e-12);
  }
  EXPECT_NEAR(share, 1.0, 1e-12);
  const SummaryRow& mm = *std::find_if(s.rows.begin(), s.rows.end(), [](auto& r) { return r.op == "matmul"; });
  EXPECT_DOUBLE_EQ(mm.calls, 2);
  EXPECT_DOUBLE_EQ(mm.flops, 2 * 2.0 * 16 * 24 * 32);
  EXPECT_NEAR(mm.gflops_per_s(), mm.flops / 2e-3 * 1e-9, 1e-9);
  std::string table = s.to_table();
  EXPECT_NE(table.find("matmul"), std::string::npos);
  EXPECT_NE(table.find("total"), std::string::npos);
}

TEST(ProfilerViews, TraceOfHandMadeRecordsHasTracksFlowsAndCounters) {
  TwoBranches t;
  ExecutionPlan plan = t.compile(2, true);
  ASSERT_FALSE(plan.events.empty()) << plan.to_table();
  Profile p = fake_profile(plan);
  nlohmann::json trace = nlohmann::json::parse(to_chrome_trace(p));
  int steps = 0, starts = 0, finishes = 0, counters = 0;
  std::set<std::string> threads;
  for (const auto& e : trace.at("traceEvents")) {
    std::string ph = e.at("ph");
    if (ph == "M" && e.at("name") == "thread_name") threads.insert(e.at("args").at("name"));
    if (ph == "X" && e.at("cat") != "run" && e.at("cat") != "critical") {
      ++steps;
      EXPECT_EQ(e.at("tid").get<int>(), stream_tid(e.at("args").at("stream").get<int>()));
    }
    starts += ph == "s";
    finishes += ph == "f";
    counters += ph == "C";
  }
  EXPECT_EQ(steps, plan.num_kernels());
  EXPECT_EQ(counters, plan.num_kernels());
  EXPECT_EQ(threads, (std::set<std::string>{"runs (host wall time)", "critical path", "stream 0", "stream 1"}));
  EXPECT_GT(starts, 0);
  EXPECT_EQ(starts, finishes);
  std::string html = html_report(p, "two branches");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // self-contained: nothing fetched
  EXPECT_EQ(html.find("src="), std::string::npos);
}

TEST(Profiler, RecordsOnlyWhileOn) {
  TwoBranches t;
  scheduler::Executor ex(t.compile(2, true));
  Profiler prof(ex);
  ex.run(t.inputs);
  EXPECT_EQ(prof.profile().num_runs(), 0);
  prof.run([&] { ex.run(t.inputs); });
  EXPECT_FALSE(prof.recording());
  ex.run(t.inputs);  // off again: not recorded
  prof.start();
  ex.run(t.inputs);
  ex.run(t.inputs);
  prof.stop();
  Profile p = prof.profile();
  ASSERT_EQ(p.num_runs(), 3);
  EXPECT_TRUE(p.runs[0].measured);
  EXPECT_FALSE(p.runs[1].measured);
  EXPECT_EQ(p.steps.size(), 3u * ex.plan().num_kernels());
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(p.run_steps(r).size(), static_cast<size_t>(ex.plan().num_kernels()));
    for (const StepRecord& s : p.run_steps(r)) {
      EXPECT_GE(s.start_s, p.runs[r].start_s);
      EXPECT_LE(s.end_s, p.runs[r].end_s);
    }
  }
  EXPECT_THROW(prof.run([] {}), ValueError);  // no run made: nothing to time
  prof.clear();
  EXPECT_EQ(prof.profile().num_runs(), 0);
}

}  // namespace
}  // namespace dagrad::profiler
