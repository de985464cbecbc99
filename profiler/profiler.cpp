#include "profiler/profiler.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>

#include "profiler/chrome_trace.h"
#include "profiler/critical_path.h"
#include "profiler/html_report.h"
#include "profiler/roofline.h"
#include "runtime/error.h"

namespace dagrad::profiler {

namespace {

// The clock of scheduler::StepTiming.
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) throw IoError(str_cat("[profiler] cannot write '", path.string(), "'"));
}

}  // namespace

std::vector<WhatIfResult> what_if_results(const Profile& p, const ReportOptions& o) {
  std::vector<WhatIfResult> out;
  if (p.num_runs() == 0) return out;
  for (const WhatIf& w : o.what_ifs) out.push_back(what_if(p, {w}, o.replay_capacity));
  if (o.what_ifs.size() > 1) out.push_back(what_if(p, o.what_ifs, o.replay_capacity));
  for (const auto& [what, plan] : o.other_plans) out.push_back(what_if_plan(p, *plan, what, o.replay_capacity));
  return out;
}

std::string summary_text(const Profile& p, const ReportOptions& o) {
  const scheduler::ExecutionPlan& plan = *p.plan;
  const Summary s = summarize(p);
  const MachinePeak* peak = o.peak ? &*o.peak : nullptr;
  std::string out = s.to_table(peak);
  if (peak && s.runs > 0) out += roofline_text(s, *peak);
  out += "\n";
  out += profiler::memory_timeline(plan).to_text(plan);
  if (p.num_runs() == 0) return out;
  out += "\n";
  out += critical_path_text(p);
  const std::vector<WhatIfResult> what_ifs = what_if_results(p, o);
  if (!what_ifs.empty())
    out += "\nwhat-ifs replay the median run's schedule (dependencies and dispatch gaps kept, concurrent kernels "
           "sharing the machine) with the steps named sped up by their factor\n" +
           what_if_text(what_ifs);
  return out;
}

Profiler::Profiler(scheduler::Executor& executor) : executor_(executor) {}

Profiler::Profiler(scheduler::Session& session, const TensorMap& inputs) : Profiler(session.executor_for(inputs)) {}

Profiler::~Profiler() { stop(); }

void Profiler::start() {
  if (recording_) return;
  runs_base_ = executor_.runs();
  recording_ = true;
  executor_.set_step_observer([this](const scheduler::StepTiming& t) { record(t); });
}

void Profiler::stop() {
  if (!recording_) return;
  executor_.set_step_observer(nullptr);
  recording_ = false;
  runs_done_ += static_cast<int>(executor_.runs() - runs_base_);
}

void Profiler::record(const scheduler::StepTiming& t) {
  // executor_.runs() counts finished runs; the run in flight is the next one.
  int run = runs_done_ + static_cast<int>(executor_.runs() - runs_base_);
  StepRecord r{run, t.step->index, t.step->stream, t.start_s, t.end_s};
  std::lock_guard<std::mutex> lock(mu_);
  steps_.push_back(r);
}

void Profiler::run(const std::function<void()>& run_once) {
  bool was_recording = recording_;
  start();
  int run = runs_done_ + static_cast<int>(executor_.runs() - runs_base_);
  uint64_t before = executor_.runs();
  double t0 = now_s();
  try {
    run_once();
  } catch (...) {
    if (!was_recording) stop();
    throw;
  }
  double t1 = now_s();
  if (executor_.runs() != before + 1) {
    if (!was_recording) stop();
    throw ValueError(str_cat("[profiler] run() expects exactly one run of the profiled executor, but it ran ",
                             executor_.runs() - before, " times (was the Session given other input shapes?)"));
  }
  measured_[run] = RunRecord{t0, t1, true};
  if (!was_recording) stop();
}

void Profiler::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  steps_.clear();
  measured_.clear();
  runs_done_ = 0;
  runs_base_ = executor_.runs();
}

Profile Profiler::profile() const {
  Profile p;
  p.plan = &executor_.plan();
  int runs = runs_done_ + (recording_ ? static_cast<int>(executor_.runs() - runs_base_) : 0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    p.steps = steps_;
  }
  // Steps of an unfinished run (recording, run in flight) do not belong to a run yet.
  std::erase_if(p.steps, [&](const StepRecord& s) { return s.run >= runs; });
  std::stable_sort(p.steps.begin(), p.steps.end(), [](const StepRecord& a, const StepRecord& b) {
    return a.run != b.run ? a.run < b.run : a.start_s < b.start_s;
  });
  const double inf = std::numeric_limits<double>::infinity();
  p.runs.assign(runs, RunRecord{inf, -inf, false});
  for (const StepRecord& s : p.steps) {
    RunRecord& r = p.runs[s.run];
    r.start_s = std::min(r.start_s, s.start_s);
    r.end_s = std::max(r.end_s, s.end_s);
  }
  for (RunRecord& r : p.runs)
    if (r.start_s > r.end_s) r = RunRecord{};  // a run without compute steps
  for (const auto& [run, r] : measured_)
    if (run < runs) p.runs[run] = r;
  return p;
}

std::string Profiler::to_chrome_trace() const { return profiler::to_chrome_trace(profile()); }

Summary Profiler::summary() const { return summarize(profile()); }

std::string Profiler::summary_table(const ReportOptions& o) const { return summary_text(profile(), o); }

MemoryTimeline Profiler::memory_timeline() const { return profiler::memory_timeline(plan()); }

std::string Profiler::to_html(const std::string& title) const { return html_report(profile(), title); }

void Profiler::write_report(const std::filesystem::path& dir, const std::string& title,
                            const ReportOptions& options) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(str_cat("[profiler] cannot create directory '", dir.string(), "': ", ec.message()));
  Profile p = profile();
  const scheduler::ExecutionPlan& pl = plan();
  write_file(dir / "trace.json", profiler::to_chrome_trace(p));
  write_file(dir / "summary.txt", summary_text(p, options));
  write_file(dir / "plan.txt", pl.to_table());
  write_file(dir / "plan.dot", pl.to_dot());
  write_file(dir / "plan.json", pl.to_json());
  write_file(dir / "report.html",
             html_report(p, title, what_if_results(p, options), options.peak ? &*options.peak : nullptr));
}

}  // namespace dagrad::profiler
