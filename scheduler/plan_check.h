// An independent safety check of a plan, from the plan's steps and events and the graph
// alone (none of the compiler's working state): it rebuilds happens-before from stream
// order plus record/wait, then checks that
//   - every step runs after the steps producing its inputs (data and control edges),
//   - no two steps touching one buffer race (one of them writing) without an order,
//   - buffers sharing arena bytes never have overlapping lives,
//   - every wait follows the record it waits for, and buffers fit in the arena.
// Tests run it over every plan they compile; it is cheap enough for debug runs too.
#pragma once
#include <string>
#include <vector>

#include "scheduler/plan.h"

namespace dagrad::scheduler {

// Violations in words (empty: the plan is safe).
std::vector<std::string> check_plan(const ExecutionPlan& plan);

// Happens-before between compute steps from stream order and events (vector clocks).
class HappensBefore {
 public:
  explicit HappensBefore(const ExecutionPlan& plan);
  // a and b are step indices of compute steps; true when a completes before b starts.
  bool operator()(int a, int b) const;
  const std::vector<std::string>& problems() const { return problems_; }  // waits before records

 private:
  std::vector<int> stream_, pos_;
  std::vector<std::vector<int>> vc_;
  std::vector<std::string> problems_;
};

}  // namespace dagrad::scheduler
