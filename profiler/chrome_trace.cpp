#include "profiler/chrome_trace.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "profiler/critical_path.h"
#include "profiler/memory_timeline.h"
#include "profiler/step_info.h"
#include "runtime/error.h"

namespace dagrad::profiler {

using nlohmann::json;
using scheduler::EventInfo;
using scheduler::ExecutionPlan;
using scheduler::Step;

namespace {

constexpr int kPid = 1;

json metadata(const char* name, int tid, json args) {
  json e{{"ph", "M"}, {"name", name}, {"pid", kPid}, {"args", std::move(args)}};
  if (tid >= 0) e["tid"] = tid;
  return e;
}

// The first compute step on `stream` issued after step `after`, or -1.
int first_compute_after(const ExecutionPlan& plan, int stream, int after) {
  for (size_t i = static_cast<size_t>(after) + 1; i < plan.steps.size(); ++i)
    if (plan.steps[i].stream == stream && plan.steps[i].is_compute()) return static_cast<int>(i);
  return -1;
}

}  // namespace

std::string to_chrome_trace(const Profile& p) {
  DAGRAD_ASSERT(p.plan != nullptr);
  const ExecutionPlan& plan = *p.plan;
  const Graph& g = *plan.graph;
  const double origin = p.origin_s();
  // Microseconds, rounded to nanoseconds: finer digits are clock noise and file size.
  auto round_ns = [](double us) { return std::round(us * 1e3) * 1e-3; };
  auto us = [&](double s) { return round_ns((s - origin) * 1e6); };

  json events = json::array();
  events.push_back(metadata(
      "process_name", -1,
      {{"name", str_cat("dagrad executor (", plan.num_streams, " stream", plan.num_streams == 1 ? "" : "s", ")")}}));
  events.push_back(metadata("thread_name", kRunsTid, {{"name", "runs (host wall time)"}}));
  events.push_back(metadata("thread_sort_index", kRunsTid, {{"sort_index", 0}}));
  events.push_back(metadata("thread_name", kCriticalTid, {{"name", "critical path"}}));
  events.push_back(metadata("thread_sort_index", kCriticalTid, {{"sort_index", 1 << 21}}));
  for (int s = 0; s < plan.num_streams; ++s) {
    // Streams past the compute ones: the communication stream (gradient all-reduces).
    bool comm = s >= plan.options.num_streams;
    events.push_back(metadata("thread_name", stream_tid(s), {{"name", str_cat("stream ", s, comm ? " (communication)" : "")}}));
    events.push_back(metadata("thread_sort_index", stream_tid(s), {{"sort_index", stream_tid(s)}}));
  }

  for (int r = 0; r < p.num_runs(); ++r) {
    const RunRecord& run = p.runs[r];
    events.push_back({{"ph", "X"},
                      {"name", str_cat("run ", r)},
                      {"cat", "run"},
                      {"pid", kPid},
                      {"tid", kRunsTid},
                      {"ts", us(run.start_s)},
                      {"dur", round_ns(us(run.end_s) - us(run.start_s))},
                      {"args", {{"run", r}, {"wall_ms", run.seconds() * 1e3}, {"measured", run.measured}}}});
  }

  std::vector<StepInfo> info(plan.steps.size());
  std::vector<json> node_args(plan.steps.size());
  for (const Step& st : plan.steps) {
    if (!st.is_compute()) continue;
    info[st.index] = describe_step(plan, st);
    json nodes = json::array();
    for (int id : st.nodes) nodes.push_back(str_cat(g.node(id).name, " (", g.node(id).op_name(), ")"));
    node_args[st.index] = std::move(nodes);
  }
  MemoryTimeline mem = memory_timeline(plan);

  // Per run, where each step ran: flows need both ends.
  std::vector<const StepRecord*> at(plan.steps.size());
  auto flush_flows = [&] {
    for (const EventInfo& ev : plan.events) {
      const StepRecord* prod = ev.producer_step >= 0 ? at[ev.producer_step] : nullptr;
      if (!prod) continue;
      for (int w : ev.wait_steps) {
        int consumer = first_compute_after(plan, plan.steps[w].stream, w);
        const StepRecord* cons = consumer >= 0 ? at[consumer] : nullptr;
        if (!cons) continue;
        // Binding points strictly inside both slices, so importers attach the arrow to them.
        double ps = us(prod->start_s), pe = us(prod->end_s), cs = us(cons->start_s), ce = us(cons->end_s);
        int id = static_cast<int>(events.size());  // unique: the index of the "s" event
        std::string name = str_cat("event ", ev.id);
        events.push_back({{"ph", "s"},
                          {"id", id},
                          {"name", name},
                          {"cat", "sync"},
                          {"pid", kPid},
                          {"tid", stream_tid(prod->stream)},
                          {"ts", pe - std::min(0.25 * (pe - ps), 1.0)}});
        events.push_back({{"ph", "f"},
                          {"bp", "e"},
                          {"id", id},
                          {"name", name},
                          {"cat", "sync"},
                          {"pid", kPid},
                          {"tid", stream_tid(cons->stream)},
                          {"ts", cs + std::min(0.25 * (ce - cs), 1.0)},
                          {"args", {{"event", ev.id}, {"record_step", ev.record_step}, {"wait_step", w}}}});
      }
    }
  };

  // Per run, each step's place in the run's schedule: on the critical path, and its slack.
  std::vector<int> task_of(plan.steps.size(), -1);
  ScheduleAnalysis crit;
  int current = -1;
  for (const StepRecord& r : p.steps) {
    if (r.run != current) {
      if (current >= 0) flush_flows();
      std::fill(at.begin(), at.end(), nullptr);
      current = r.run;
      const RunSchedule rs = run_schedule(p, r.run);
      crit = analyze_schedule(rs.tasks);
      for (size_t i = 0; i < rs.tasks.size(); ++i) task_of[rs.tasks[i].step] = static_cast<int>(i);
    }
    const int task = task_of[r.step];
    const bool critical = task >= 0 && crit.on_path[task];
    at.at(r.step) = &r;
    const StepInfo& si = info.at(r.step);
    const Step& st = plan.steps[r.step];
    json args{{"step", r.step},
              {"run", r.run},
              {"stream", r.stream},
              {"nodes", node_args[r.step]},
              {"flops", si.flops},
              {"bytes", si.bytes},
              {"GFLOP/s", r.seconds() > 0 ? si.flops / r.seconds() * 1e-9 : 0.0}};
    if (st.group >= 0) args["fused_group"] = st.group;
    args["critical_path"] = critical;
    args["slack_us"] = task >= 0 ? round_ns(std::max(0.0, crit.times[task].slack()) * 1e6) : 0.0;
    json event{{"ph", "X"},
               {"name", si.label},
               {"cat", step_class_name(si.kind)},
               {"pid", kPid},
               {"tid", stream_tid(r.stream)},
               {"ts", us(r.start_s)},
               {"dur", round_ns(us(r.end_s) - us(r.start_s))},
               {"args", std::move(args)}};
    if (critical) {  // the same slice on the critical path's track
      json copy = event;
      copy["tid"] = kCriticalTid;
      copy["cat"] = "critical";
      events.push_back(std::move(copy));
    }
    events.push_back(std::move(event));
    events.push_back({{"ph", "C"},
                      {"name", "planned live arena MiB"},
                      {"pid", kPid},
                      {"ts", us(r.start_s)},
                      {"args", {{"live", static_cast<double>(mem.live_bytes[r.step]) / (1 << 20)}}}});
  }
  if (current >= 0) flush_flows();

  json other{{"generator", "dagrad profiler"},
             {"plan", plan.summary()},
             {"runs", p.num_runs()},
             {"streams", plan.num_streams}};
  // One event per line, as Chrome writes traces: compact, yet diffable and greppable.
  std::string out = "{\"displayTimeUnit\":\"ms\",\"otherData\":" + other.dump() + ",\n\"traceEvents\":[\n";
  for (size_t i = 0; i < events.size(); ++i) out += events[i].dump() + (i + 1 < events.size() ? ",\n" : "\n");
  return out + "]}\n";
}

}  // namespace dagrad::profiler
