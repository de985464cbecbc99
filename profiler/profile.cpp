#include "profiler/profile.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dagrad::profiler {

double Profile::origin_s() const {
  double t = std::numeric_limits<double>::infinity();
  for (const RunRecord& r : runs) t = std::min(t, r.start_s);
  for (const StepRecord& s : steps) t = std::min(t, s.start_s);
  return std::isinf(t) ? 0.0 : t;
}

std::vector<StepRecord> Profile::run_steps(int run) const {
  std::vector<StepRecord> out;
  for (const StepRecord& s : steps)
    if (s.run == run) out.push_back(s);
  std::stable_sort(out.begin(), out.end(),
                   [](const StepRecord& a, const StepRecord& b) { return a.start_s < b.start_s; });
  return out;
}

int Profile::median_run() const {
  if (runs.empty()) return -1;
  std::vector<int> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return runs[a].seconds() < runs[b].seconds(); });
  return order[(order.size() - 1) / 2];
}

}  // namespace dagrad::profiler
