// Profile: what the Profiler recorded, as plain data. The plan that ran, then one
// StepRecord per executed compute step and one RunRecord per profiled run. The analyses
// (summary, trace, memory timeline, report) are functions of a Profile, so they can be
// tested on hand-made records too.
#pragma once
#include <vector>

#include "scheduler/plan.h"

namespace dagrad::profiler {

// One compute step (kernel or fused group) as it ran.
struct StepRecord {
  int run = 0;    // profiled run, 0-based
  int step = -1;  // index in ExecutionPlan::steps
  int stream = 0;
  double start_s = 0;  // host steady clock, seconds (CUDA events on a GPU, later)
  double end_s = 0;
  double seconds() const { return end_s - start_s; }
};

// One profiled run: the host wall time of the call that ran it; without one (runs
// recorded between start() and stop()), the span of its steps.
struct RunRecord {
  double start_s = 0;
  double end_s = 0;
  bool measured = false;  // timed around the call, not derived from its steps
  double seconds() const { return end_s - start_s; }
};

struct Profile {
  const scheduler::ExecutionPlan* plan = nullptr;  // the plan's graph must be alive too
  std::vector<StepRecord> steps;                   // by run, then by start time
  std::vector<RunRecord> runs;                     // runs[r] for StepRecord::run == r

  int num_runs() const { return static_cast<int>(runs.size()); }
  // The earliest recorded time: 0 on the trace's and the report's time axes.
  double origin_s() const;
  // The records of one run, by start time.
  std::vector<StepRecord> run_steps(int run) const;
  // The run whose wall time is the median: the one the report draws.
  int median_run() const;
};

}  // namespace dagrad::profiler
