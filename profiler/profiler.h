// Profiler: records what an Executor runs, step by step, and explains where the time
// went. Attach it to an Executor (or the Executor a Session compiled for some inputs):
//
//   profiler::Profiler prof(session, inputs);          // or Profiler prof(executor)
//   for (int i = 0; i < 10; ++i) prof.run([&] { session.run(inputs); });
//   std::cout << prof.summary_table();
//   prof.write_report("out/profile", "mnist-cnn");    // trace.json, summary.txt, plan.*, report.html
//
// While recording, the executor calls the profiler after every compute step, from the
// stream's thread, with host steady-clock times around the step (on a GPU it first waits
// for the step's device work, so times are device times and streams do not overlap while
// recording); otherwise no observer is set and the executor pays one null check per step. FLOPs and bytes come from the cost
// model (OpDef::cost_of), summed over each step's member nodes.
//
// Start, stop and run only between executor runs, from the thread that runs them. The
// executor (and its plan's graph) must outlive the profiler.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "profiler/machine_peaks.h"
#include "profiler/memory_timeline.h"
#include "profiler/profile.h"
#include "profiler/summary.h"
#include "profiler/what_if.h"
#include "scheduler/executor.h"
#include "scheduler/session.h"

namespace dagrad::profiler {

// What the reports add to the measured profile.
struct ReportOptions {
  // Replayed on the median run's schedule: each alone, then all together when there are
  // several (what_if.h).
  std::vector<WhatIf> what_ifs;
  // Other plans of the same graph to predict the run on, each with its label
  // ("streams=2"); they must outlive the call.
  std::vector<std::pair<std::string, const scheduler::ExecutionPlan*>> other_plans;
  // Kernels that run at full speed at once in a replay (replay.h): 1 on the CPU, where
  // every stream's kernels share the thread pool.
  double replay_capacity = 1;
  // The machine's peaks at the profiled thread count (machine_peaks.h): with them, the
  // per-op tables get a "% roof" column and report.html a roofline chart (roofline.h).
  std::optional<MachinePeak> peak;
};

// The what-ifs of `options` replayed on `profile`.
std::vector<WhatIfResult> what_if_results(const Profile& profile, const ReportOptions& options);
// summary.txt: the per-op summary (with the roofline when the peaks are known), the
// memory plan, the critical path with every step's slack, and the what-ifs.
std::string summary_text(const Profile& profile, const ReportOptions& options = {});

class Profiler {
 public:
  explicit Profiler(scheduler::Executor& executor);
  // The executor `session` compiled (or compiles now) for inputs shaped like `inputs`.
  Profiler(scheduler::Session& session, const TensorMap& inputs);
  ~Profiler();  // stops recording
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  // Records every following executor run until stop(). Each run's wall time is then the
  // span of its steps; run() measures it around the call instead.
  void start();
  void stop();
  bool recording() const { return recording_; }
  // Records exactly one executor run made by `run_once` (e.g. [&] { session.run(in); }),
  // timing the call on the host as the run's wall time.
  void run(const std::function<void()>& run_once);
  // Forgets every recorded run.
  void clear();

  const scheduler::ExecutionPlan& plan() const { return executor_.plan(); }
  // A snapshot of the recorded runs (steps ordered by run, then start time).
  Profile profile() const;

  // The outputs, each also a function of Profile (chrome_trace.h, summary.h,
  // memory_timeline.h, critical_path.h, what_if.h, html_report.h).
  std::string to_chrome_trace() const;
  Summary summary() const;
  std::string summary_table(const ReportOptions& options = {}) const;  // summary.txt's text
  MemoryTimeline memory_timeline() const;
  std::string to_html(const std::string& title) const;
  // Writes trace.json, summary.txt, plan.txt, plan.dot, plan.json and report.html into
  // `dir` (created if needed). Throws IoError when a file cannot be written.
  void write_report(const std::filesystem::path& dir, const std::string& title,
                    const ReportOptions& options = {}) const;

 private:
  void record(const scheduler::StepTiming& t);

  scheduler::Executor& executor_;
  bool recording_ = false;
  uint64_t runs_base_ = 0;  // executor.runs() when recording started
  int runs_done_ = 0;       // runs recorded by earlier start()/stop() spans
  mutable std::mutex mu_;   // stream threads append concurrently
  std::vector<StepRecord> steps_;
  std::map<int, RunRecord> measured_;  // run -> wall time measured by run()
};

}  // namespace dagrad::profiler
