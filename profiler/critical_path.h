// The critical path of a profiled run: the chain of dependent steps that decides how
// long the run takes, and every other step's slack (how much later it could have
// started without making the run longer).
//
// The schedule is a DAG of compute steps. A step waits for the previous compute step on
// its stream (a stream runs its queue in order) and for the producers of the events its
// stream waited for since then. Each step keeps its measured duration and its lag: the
// time between its last dependency finishing (or the run starting) and its own start,
// i.e. the stream's dispatch and wake-up overhead. With both, the earliest start of every
// step is its measured start, so the analysis explains the run that happened; a replay
// with other durations (what_if.h) keeps the lags, as faster kernels do not make the
// dispatch faster.
#pragma once
#include <string>
#include <vector>

#include "profiler/profile.h"

namespace dagrad::profiler {

// One node of the schedule's DAG.
struct ScheduleTask {
  int step = -1;  // index in ExecutionPlan::steps (any id in hand-made schedules)
  int stream = 0;
  double duration = 0;    // seconds
  double lag = 0;         // seconds from the last dependency's finish (or time 0) to the start
  std::vector<int> deps;  // positions of the tasks it waits for; each before it in the list
};

struct TaskTimes {
  double start = 0, finish = 0;                // earliest, from time 0 (the run's start)
  double latest_start = 0, latest_finish = 0;  // latest that keep the makespan
  double slack() const { return latest_start - start; }
};

struct ScheduleAnalysis {
  double makespan = 0;           // the last finish
  std::vector<TaskTimes> times;  // per task
  std::vector<int> path;         // positions of the critical path's tasks, first to last
  std::vector<bool> on_path;     // per task
};

// Forward pass for the earliest times, backward pass for the latest; the path is walked
// back from the last finish through the dependency that finished last (ties: the one
// issued later, i.e. the stream predecessor before an event). Throws ValueError when a
// dependency is not an earlier task.
ScheduleAnalysis analyze_schedule(const std::vector<ScheduleTask>& tasks);

// Per compute step of `plan`, in issue order, the compute steps it waits for (step
// indices): the previous one on its stream and the producers of the events waited for
// on its stream since then.
struct StepDependencies {
  int step = -1;
  std::vector<int> deps;
};
std::vector<StepDependencies> step_dependencies(const scheduler::ExecutionPlan& plan);

// One profiled run as a schedule: its compute steps in issue order with their measured
// durations and lags, times from the run's start.
struct RunSchedule {
  int run = -1;
  std::vector<ScheduleTask> tasks;
  double wall = 0;  // the run's wall time
  // The wall time after the last step finished: the host's end of the run (waiting for
  // the streams, copying the outputs). Replays keep it.
  double tail = 0;
  double wall_of(const ScheduleAnalysis& a) const { return a.makespan + tail; }
};
// Throws ValueError when `run` was not recorded.
RunSchedule run_schedule(const Profile& profile, int run);

// Where a run's time went along its critical path, for summary.txt: the path's length
// against the wall time, its time per op, and (with `step_table`) every compute step with
// its stream, start, duration and slack, the path's steps marked. The median run; empty
// without runs.
std::string critical_path_text(const Profile& profile, bool step_table = true);

}  // namespace dagrad::profiler
