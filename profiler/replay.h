// Replaying a schedule (critical_path.h) with other durations, for what-ifs.
//
// Streams share the machine: on the CPU every kernel runs on the one thread pool, so two
// kernels on two streams each get about half of it. The replay therefore shares a
// `capacity` among the tasks running at once: with n running, each progresses at
// min(1, capacity / n) of its own speed. capacity 1 is the CPU (each kernel alone would
// use every core); an unbounded capacity is the plain dependency-graph replay, where
// concurrent kernels do not slow each other down.
//
// A task's duration in a replay is its work: the time it takes alone. standalone_work
// recovers it from a measured run by undoing the sharing (each measured interval counts
// min(1, capacity / n) of its length), so replaying the measured run's work reproduces
// the measured run.
#pragma once
#include <limits>
#include <vector>

#include "profiler/critical_path.h"

namespace dagrad::profiler {

constexpr double kUnboundedCapacity = std::numeric_limits<double>::infinity();

struct ReplayResult {
  std::vector<double> start, finish;  // per task, from time 0
  double makespan = 0;
};

// Runs `tasks` (duration = work alone, lag and dependencies as measured) with `capacity`
// shared among the running ones (> 0; ValueError otherwise).
ReplayResult replay_schedule(const std::vector<ScheduleTask>& tasks, double capacity);

// The work of each task of a measured schedule (durations as measured): its duration
// with the time it shared with others scaled by min(1, capacity / n).
std::vector<double> standalone_work(const std::vector<ScheduleTask>& measured, double capacity);

}  // namespace dagrad::profiler
