#include "profiler/what_if.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad::profiler {

using scheduler::ExecutionPlan;
using scheduler::Step;
using scheduler::StepKind;

std::string WhatIf::text() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", factor);
  return target + "=" + buf;
}

WhatIf parse_what_if(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw ValueError(str_cat("[what-if] '", spec, "' is not OP_OR_KIND=FACTOR (e.g. conv2d=2 or gemm=1.5)"));
  WhatIf w{spec.substr(0, eq), 0};
  const std::string f = spec.substr(eq + 1);
  size_t used = 0;
  try {
    w.factor = std::stod(f, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != f.size() || !std::isfinite(w.factor) || w.factor <= 0)
    throw ValueError(str_cat("[what-if] '", spec, "': the factor '", f,
                             "' is not a positive number (2: twice as fast, 0.5: twice as slow)"));
  return w;
}

bool what_if_matches(const std::string& target, const StepInfo& info, const Graph& g) {
  if (target == info.label || target == step_class_name(info.kind)) return true;
  if (info.nodes.empty()) return false;
  if (info.kind != StepClass::fused) return g.node(info.nodes.front()).op_name() == target;
  for (int id : info.nodes)
    if (g.node(id).op_name() == target) return true;
  return false;
}

void check_what_ifs(const ExecutionPlan& plan, const std::vector<WhatIf>& changes) {
  std::vector<StepInfo> info;
  for (const Step& st : plan.steps)
    if (st.is_compute()) info.push_back(describe_step(plan, st));
  for (const WhatIf& w : changes) {
    bool found = false;
    for (const StepInfo& si : info) found = found || what_if_matches(w.target, si, *plan.graph);
    if (found) continue;
    std::set<std::string> kinds, ops;
    for (const StepInfo& si : info) {
      kinds.insert(std::string(step_class_name(si.kind)));
      for (int id : si.nodes) ops.insert(plan.graph->node(id).op_name());
    }
    std::string k, o;
    for (const std::string& s : kinds) k += (k.empty() ? "" : ", ") + s;
    for (const std::string& s : ops) o += (o.empty() ? "" : ", ") + s;
    throw ValueError(str_cat("[what-if] '", w.target, "' names no step of this plan; kinds: ", k, "; ops: ", o));
  }
}

WhatIfResult what_if(const Profile& p, const std::vector<WhatIf>& changes, double capacity) {
  DAGRAD_ASSERT(p.plan != nullptr);
  WhatIfResult r;
  for (const WhatIf& w : changes) r.what += str_cat(r.what.empty() ? "" : " ", w.text());
  if (p.num_runs() == 0) return r;
  RunSchedule rs = run_schedule(p, p.median_run());
  r.measured_wall = rs.wall;
  const std::vector<double> work = standalone_work(rs.tasks, capacity);
  for (size_t i = 0; i < rs.tasks.size(); ++i) {
    ScheduleTask& t = rs.tasks[i];
    const StepInfo info = describe_step(*p.plan, p.plan->steps[t.step]);
    double factor = 1;
    for (const WhatIf& w : changes)
      if (what_if_matches(w.target, info, *p.plan->graph)) factor *= w.factor;
    if (factor != 1) ++r.steps, r.step_seconds += t.duration;
    t.duration = work[i] / factor;
  }
  r.predicted_wall = replay_schedule(rs.tasks, capacity).makespan + rs.tail;
  return r;
}

RunSchedule transfer_schedule(const Profile& p, const ExecutionPlan& target, double capacity) {
  DAGRAD_ASSERT(p.plan != nullptr && p.num_runs() > 0);
  const ExecutionPlan& source = *p.plan;
  const RunSchedule measured = run_schedule(p, p.median_run());
  const std::vector<double> work = standalone_work(measured.tasks, capacity);
  std::vector<int> task_of(source.steps.size(), -1);  // source step -> measured task
  for (size_t i = 0; i < measured.tasks.size(); ++i) task_of[measured.tasks[i].step] = static_cast<int>(i);
  std::map<std::string, int> step_of_name;  // node name -> source compute step
  for (const Step& st : source.steps)
    if (st.is_compute())
      for (int id : st.nodes) step_of_name[source.graph->node(id).name] = st.index;

  const std::vector<StepDependencies> deps = step_dependencies(target);
  std::vector<std::vector<int>> sources(deps.size());  // per target task: source steps, distinct
  std::map<int, int> shared;                           // source step -> target steps using it
  for (size_t i = 0; i < deps.size(); ++i) {
    std::set<int> steps;
    for (int id : target.steps[deps[i].step].nodes) {
      const std::string& name = target.graph->node(id).name;
      auto it = step_of_name.find(name);
      if (it == step_of_name.end())
        throw ValueError(str_cat("[what-if] node '", name, "' of step ", deps[i].step,
                                 " did not run in the profiled plan: it cannot be predicted from it"));
      steps.insert(it->second);
    }
    sources[i].assign(steps.begin(), steps.end());
    for (int s : steps) ++shared[s];
  }

  RunSchedule rs;
  rs.run = measured.run;
  rs.wall = measured.wall;
  rs.tail = measured.tail;
  std::vector<int> pos(target.steps.size(), -1);
  for (size_t i = 0; i < deps.size(); ++i) {
    ScheduleTask t;
    t.step = deps[i].step;
    t.stream = target.steps[t.step].stream;
    for (int d : deps[i].deps) t.deps.push_back(pos.at(d));
    for (int s : sources[i]) t.duration += work.at(task_of.at(s)) / shared[s];
    const std::string& first = target.graph->node(target.steps[t.step].nodes.front()).name;
    t.lag = measured.tasks.at(task_of.at(step_of_name.at(first))).lag;
    pos[t.step] = static_cast<int>(rs.tasks.size());
    rs.tasks.push_back(std::move(t));
  }
  return rs;
}

WhatIfResult what_if_plan(const Profile& p, const ExecutionPlan& target, const std::string& what, double capacity) {
  const RunSchedule rs = transfer_schedule(p, target, capacity);
  WhatIfResult r;
  r.what = what;
  r.steps = static_cast<int>(rs.tasks.size());
  for (const ScheduleTask& t : rs.tasks) r.step_seconds += t.duration;
  r.measured_wall = rs.wall;
  r.predicted_wall = replay_schedule(rs.tasks, capacity).makespan + rs.tail;
  return r;
}

std::string what_if_text(const std::vector<WhatIfResult>& results) {
  std::string out;
  char line[512];
  for (const WhatIfResult& r : results) {
    const double change = r.measured_wall > 0 ? (r.predicted_wall / r.measured_wall - 1) * 100 : 0;
    std::snprintf(line, sizeof line,
                  "what-if %s: %d step%s (%.3f ms measured): the run would take %.3f ms instead of %.3f ms (%+.1f%%)\n",
                  r.what.c_str(), r.steps, r.steps == 1 ? "" : "s", r.step_seconds * 1e3, r.predicted_wall * 1e3,
                  r.measured_wall * 1e3, change);
    out += line;
  }
  return out;
}

}  // namespace dagrad::profiler
