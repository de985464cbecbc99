// What-if: "if op X (or kind K) ran k times faster, the run would take T ms". The
// profiled run's schedule (critical_path.h) is replayed (replay.h) with the matching
// steps' work divided by k; dependencies and lags stay. With kernels that do not share
// the machine (an unbounded capacity), a step off the critical path changes nothing
// until its slack is used up; on the CPU (capacity 1) a faster kernel also frees the
// cores that a concurrent stream's kernel was sharing with it.
//
// The same replay predicts another plan of the same graph (another stream count): each
// of its steps takes the work of the profiled steps that ran its nodes.
#pragma once
#include <string>
#include <vector>

#include "profiler/critical_path.h"
#include "profiler/replay.h"
#include "profiler/step_info.h"

namespace dagrad::profiler {

// One change: steps that `target` names run `factor` times as fast.
struct WhatIf {
  std::string target;  // an op (conv2d), a step label (fused[add+relu]) or a kind (gemm)
  double factor = 1;   // > 0; 2: twice as fast, 0.5: twice as slow
  std::string text() const;  // "conv2d=2"
};

// "OP_OR_KIND=FACTOR"; ValueError saying what is wrong otherwise.
WhatIf parse_what_if(const std::string& spec);

// Whether `target` names the step: its label, its kind (step_class_name), its kernel's op
// (the first node: conv2d in "conv2d+fused[add+relu]"), or, for a fused elementwise
// group, any member op. The whole step is scaled.
bool what_if_matches(const std::string& target, const StepInfo& info, const Graph& graph);

// Throws ValueError when a target names no compute step of `plan`, listing the kinds and
// ops it has (so a typo fails before any profiling).
void check_what_ifs(const scheduler::ExecutionPlan& plan, const std::vector<WhatIf>& changes);

struct WhatIfResult {
  std::string what;             // "conv2d=2", "conv2d=2 gemm=1.5", "streams=2"
  int steps = 0;                // compute steps the changes matched
  double step_seconds = 0;      // their measured time
  double measured_wall = 0;     // the profiled run's wall time
  double predicted_wall = 0;    // the replay's
};

// Replays the median run with `changes` applied together, `capacity` kernels at once at
// full speed (replay.h: 1 on the CPU).
WhatIfResult what_if(const Profile& profile, const std::vector<WhatIf>& changes, double capacity);

// The median run of `profile` as a schedule of `target`, another plan of the same model
// (the same node names; e.g. compiled with more streams), for a replay: a target step's
// duration is the summed standalone work of the profiled steps that ran its nodes (a
// profiled step split over several target steps is shared equally between them), its lag
// that of the profiled step that ran its first node. Throws ValueError when a target
// step's nodes never ran in the profile.
RunSchedule transfer_schedule(const Profile& profile, const scheduler::ExecutionPlan& target, double capacity);
// transfer_schedule replayed: the run predicted on `target`, labelled `what`.
WhatIfResult what_if_plan(const Profile& profile, const scheduler::ExecutionPlan& target, const std::string& what,
                          double capacity);

// Lines for summary.txt and the console, one per result:
// "what-if conv2d=2: 3 steps (4.100 ms measured); the run would take 10.9 ms instead of 12.3 ms (-11.4%) ...".
std::string what_if_text(const std::vector<WhatIfResult>& results);

}  // namespace dagrad::profiler
