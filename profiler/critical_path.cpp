#include "profiler/critical_path.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>

#include "profiler/step_info.h"
#include "runtime/error.h"

namespace dagrad::profiler {

using scheduler::ExecutionPlan;
using scheduler::Step;
using scheduler::StepKind;

ScheduleAnalysis analyze_schedule(const std::vector<ScheduleTask>& tasks) {
  const int n = static_cast<int>(tasks.size());
  ScheduleAnalysis a;
  a.times.resize(n);
  a.on_path.assign(n, false);
  std::vector<std::vector<int>> successors(n);
  for (int i = 0; i < n; ++i)
    for (int d : tasks[i].deps) {
      if (d < 0 || d >= i)
        throw ValueError(str_cat("[critical path] task ", i, " depends on task ", d,
                                 ", which is not an earlier task: list the tasks in a topological order"));
      successors[d].push_back(i);
    }
  for (int i = 0; i < n; ++i) {
    double ready = 0;
    for (int d : tasks[i].deps) ready = std::max(ready, a.times[d].finish);
    TaskTimes& t = a.times[i];
    t.start = ready + tasks[i].lag;
    t.finish = t.start + tasks[i].duration;
    a.makespan = std::max(a.makespan, t.finish);
  }
  // A successor s starts lag_s after its last dependency, so a task must finish by
  // latest_start(s) - lag(s) for every successor, and by the makespan.
  for (int i = n - 1; i >= 0; --i) {
    double lf = a.makespan;
    for (int s : successors[i]) lf = std::min(lf, a.times[s].latest_start - tasks[s].lag);
    a.times[i].latest_finish = lf;
    a.times[i].latest_start = lf - tasks[i].duration;
  }
  int at = -1;
  for (int i = 0; i < n; ++i)
    if (at < 0 || a.times[i].finish >= a.times[at].finish) at = i;
  while (at >= 0) {
    a.path.push_back(at);
    a.on_path[at] = true;
    int next = -1;
    for (int d : tasks[at].deps)
      if (next < 0 || a.times[d].finish > a.times[next].finish ||
          (a.times[d].finish == a.times[next].finish && d > next))
        next = d;
    at = next;
  }
  std::reverse(a.path.begin(), a.path.end());
  return a;
}

std::vector<StepDependencies> step_dependencies(const ExecutionPlan& plan) {
  std::vector<StepDependencies> out;
  std::vector<int> last(plan.num_streams, -1);
  std::vector<std::vector<int>> waited(plan.num_streams);  // producers waited for since `last`
  for (const Step& st : plan.steps) {
    if (st.kind == StepKind::wait) {
      const scheduler::EventInfo& ev = plan.events.at(st.event);
      DAGRAD_ASSERT(ev.id == st.event);
      if (ev.producer_step >= 0) waited.at(st.stream).push_back(ev.producer_step);
    } else if (st.is_compute()) {
      StepDependencies d{st.index, std::move(waited.at(st.stream))};
      waited[st.stream].clear();
      if (last[st.stream] >= 0) d.deps.push_back(last[st.stream]);
      std::sort(d.deps.begin(), d.deps.end());
      d.deps.erase(std::unique(d.deps.begin(), d.deps.end()), d.deps.end());
      last[st.stream] = st.index;
      out.push_back(std::move(d));
    }
  }
  return out;
}

RunSchedule run_schedule(const Profile& p, int run) {
  DAGRAD_ASSERT(p.plan != nullptr);
  if (run < 0 || run >= p.num_runs())
    throw ValueError(str_cat("[critical path] run ", run, " was not recorded (", p.num_runs(), " runs)"));
  const ExecutionPlan& plan = *p.plan;
  const RunRecord& rr = p.runs[run];
  std::vector<const StepRecord*> rec(plan.steps.size(), nullptr);
  std::vector<StepRecord> steps = p.run_steps(run);
  for (const StepRecord& s : steps) rec.at(s.step) = &s;

  RunSchedule rs;
  rs.run = run;
  rs.wall = rr.seconds();
  std::vector<int> pos(plan.steps.size(), -1);
  std::vector<double> finish;  // measured, from the run's start
  double last_finish = 0;
  for (const StepDependencies& d : step_dependencies(plan)) {
    ScheduleTask t;
    t.step = d.step;
    t.stream = plan.steps[d.step].stream;
    double ready = 0;
    for (int dep : d.deps) {
      t.deps.push_back(pos.at(dep));
      ready = std::max(ready, finish.at(pos[dep]));
    }
    // A step that did not run (not recorded) takes no time where it would have been.
    const StepRecord* r = rec[d.step];
    double start = r ? r->start_s - rr.start_s : ready;
    t.duration = r ? r->seconds() : 0;
    // Clocks of different stream threads can disagree by a little: never a negative lag.
    t.lag = std::max(0.0, start - ready);
    pos[d.step] = static_cast<int>(rs.tasks.size());
    finish.push_back(ready + t.lag + t.duration);
    last_finish = std::max(last_finish, finish.back());
    rs.tasks.push_back(std::move(t));
  }
  rs.tail = std::max(0.0, rs.wall - last_finish);
  return rs;
}

namespace {

std::string ms(double s, int decimals = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, s * 1e3);
  return buf;
}

}  // namespace

std::string critical_path_text(const Profile& p, bool step_table) {
  if (p.num_runs() == 0) return "";
  const ExecutionPlan& plan = *p.plan;
  const int run = p.median_run();
  const RunSchedule rs = run_schedule(p, run);
  const ScheduleAnalysis a = analyze_schedule(rs.tasks);
  std::vector<StepInfo> info(rs.tasks.size());
  for (size_t i = 0; i < rs.tasks.size(); ++i) info[i] = describe_step(plan, plan.steps[rs.tasks[i].step]);

  double kernels = 0;
  int hops = 0;
  std::map<std::string, double> by_op;
  std::vector<bool> streams_used(plan.num_streams, false);
  for (size_t k = 0; k < a.path.size(); ++k) {
    const int i = a.path[k];
    kernels += rs.tasks[i].duration;
    by_op[info[i].label] += rs.tasks[i].duration;
    streams_used[rs.tasks[i].stream] = true;
    if (k > 0 && rs.tasks[i].stream != rs.tasks[a.path[k - 1]].stream) ++hops;
  }
  std::string streams;
  for (int s = 0; s < plan.num_streams; ++s)
    if (streams_used[s]) streams += str_cat(streams.empty() ? "" : ",", s);

  std::string out = str_cat("critical path of run ", run, " (the median): ", ms(a.makespan), " ms of its ", ms(rs.wall),
                            " ms wall (", ms(rs.tail), " ms after its last step); ", a.path.size(), " of ",
                            rs.tasks.size(), " steps on stream", streams.size() > 1 ? "s " : " ", streams, ", ", hops,
                            " cross-stream hop", hops == 1 ? "" : "s", "; ", ms(kernels), " ms in kernels, ",
                            ms(a.makespan - kernels), " ms waiting for dispatch\n");
  std::vector<std::pair<std::string, double>> ops(by_op.begin(), by_op.end());
  std::stable_sort(ops.begin(), ops.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  out += "on the path by op:";
  for (size_t k = 0; k < ops.size() && k < 6; ++k)
    out += str_cat(k ? ", " : " ", ops[k].first, " ", ms(ops[k].second), " ms");
  out += ops.size() > 6 ? ", ...\n" : "\n";
  if (!step_table) return out;
  out += "slack: how much later a step could have started without making the run longer; * marks the critical path\n\n";

  const int w = 44;
  char line[256];
  std::snprintf(line, sizeof line, "%5s %6s %4s  %-*s %10s %10s %10s\n", "step", "stream", "path", w, "op", "start ms",
                "dur ms", "slack ms");
  out += line;
  out += std::string(w + 52, '-') + "\n";
  for (size_t i = 0; i < rs.tasks.size(); ++i) {
    std::string label = info[i].label;
    if (label.size() > static_cast<size_t>(w)) label = label.substr(0, w - 3) + "...";
    std::snprintf(line, sizeof line, "%5d %6d %4s  %-*s %10s %10s %10s\n", rs.tasks[i].step, rs.tasks[i].stream,
                  a.on_path[i] ? "*" : "", w, label.c_str(), ms(a.times[i].start).c_str(),
                  ms(rs.tasks[i].duration).c_str(), ms(std::max(0.0, a.times[i].slack())).c_str());
    out += line;
  }
  return out;
}

}  // namespace dagrad::profiler
