// The per-op summary: every compute step's time grouped by its label (the op, or the
// fused group's member ops), per profiled run, sorted by time.
#pragma once
#include <string>
#include <vector>

#include "profiler/machine_peaks.h"
#include "profiler/profile.h"
#include "profiler/step_info.h"

namespace dagrad::profiler {

// Times, FLOPs and bytes are per run: totals over the profiled runs divided by their number.
struct SummaryRow {
  std::string op;  // StepInfo::label
  StepClass kind = StepClass::other;
  double calls = 0;
  double seconds = 0;
  double flops = 0;
  double bytes = 0;
  double share = 0;  // of all steps' time (every stream), 0..1

  double mean_seconds() const { return calls > 0 ? seconds / calls : 0; }
  double gflops_per_s() const { return seconds > 0 ? flops / seconds * 1e-9 : 0; }
  double gbytes_per_s() const { return seconds > 0 ? bytes / seconds * 1e-9 : 0; }
};

struct Summary {
  int runs = 0;
  int streams = 1;
  double wall_seconds = 0;  // mean wall time of a run
  double step_seconds = 0;  // per run: the sum of all steps' durations, every stream
  double calls = 0;         // compute steps per run
  double flops = 0;         // per run: the cost model's total for the plan
  double bytes = 0;
  std::vector<SummaryRow> rows;  // by time, longest first (ties by name)

  // Header lines, then one row per op and a total row (fixed-width text); with `peak`,
  // a "% roof" column (roofline.h).
  std::string to_table(const MachinePeak* peak = nullptr) const;
};

Summary summarize(const Profile& profile);

}  // namespace dagrad::profiler
