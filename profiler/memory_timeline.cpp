#include "profiler/memory_timeline.h"

#include <algorithm>
#include <cstdio>

#include "profiler/step_info.h"
#include "runtime/error.h"

namespace dagrad::profiler {

using scheduler::Buffer;
using scheduler::ExecutionPlan;

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

MemoryTimeline memory_timeline(const ExecutionPlan& plan) {
  MemoryTimeline m;
  const int n = static_cast<int>(plan.steps.size());
  // Difference array over step indices: +bytes at first use, -bytes after the last.
  std::vector<long long> delta(static_cast<size_t>(n) + 1, 0);
  for (const Buffer& b : plan.buffers) {
    if (b.kind == Buffer::Kind::bound) {
      m.bound_bytes += b.bytes;
      continue;
    }
    if (b.first_use < 0 || b.first_use >= n) continue;
    int last = std::min(b.last_use, n - 1);  // outputs live to steps.size(): the end
    delta[b.first_use] += static_cast<long long>(b.bytes);
    delta[last + 1] -= static_cast<long long>(b.bytes);
  }
  long long live = 0;
  m.live_bytes.resize(n);
  for (int i = 0; i < n; ++i) {
    live += delta[i];
    m.live_bytes[i] = static_cast<size_t>(live);
    if (m.live_bytes[i] > m.peak_live_bytes) m.peak_live_bytes = m.live_bytes[i], m.peak_step = i;
  }
  m.arena_bytes = plan.arena_bytes;
  m.unplanned_bytes = plan.unplanned_bytes;
  return m;
}

std::string MemoryTimeline::to_text(const ExecutionPlan& plan) const {
  std::string where;
  if (peak_step >= 0) {
    const scheduler::Step& s = plan.steps[peak_step];
    where = s.is_compute() ? str_cat(" at step ", peak_step, " (", describe_step(plan, s).label, ")")
                           : str_cat(" at step ", peak_step);
  }
  return str_cat("memory: peak live ", format_bytes(static_cast<double>(peak_live_bytes)), where, "; arena ",
                 format_bytes(static_cast<double>(arena_bytes)), " planned (",
                 format_bytes(static_cast<double>(unplanned_bytes)), " without reuse); ",
                 format_bytes(static_cast<double>(bound_bytes)), " bound (inputs, parameters, optimizer state)\n");
}

}  // namespace dagrad::profiler
