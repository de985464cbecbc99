// The memory plan over time: the bytes of arena buffers live at every step of the
// plan's issue order, from each buffer's first and last use. This is what the planner
// promised, not a measurement: a run can never hold more than the planned arena.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "scheduler/plan.h"

namespace dagrad::profiler {

struct MemoryTimeline {
  // live_bytes[i]: sum of Buffer::bytes of the arena buffers with first_use <= i <= last_use,
  // for every step i of ExecutionPlan::steps (record and wait steps included).
  std::vector<size_t> live_bytes;
  size_t peak_live_bytes = 0;
  int peak_step = -1;          // the first step reaching the peak
  size_t arena_bytes = 0;      // the planned arena (>= the peak: alignment, fragmentation)
  size_t unplanned_bytes = 0;  // every buffer in its own region: the no-reuse baseline
  size_t bound_bytes = 0;      // inputs, parameters and optimizer state (bound, not planned)

  // A few lines: peak (and where), arena, baseline, bound.
  std::string to_text(const scheduler::ExecutionPlan& plan) const;
};

MemoryTimeline memory_timeline(const scheduler::ExecutionPlan& plan);

// "12.3 MiB", "512 B": for tables and axes.
std::string format_bytes(double bytes);

}  // namespace dagrad::profiler
