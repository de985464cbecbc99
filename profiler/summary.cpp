#include "profiler/summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "profiler/roofline.h"
#include "runtime/error.h"

namespace dagrad::profiler {

Summary summarize(const Profile& p) {
  DAGRAD_ASSERT(p.plan != nullptr);
  Summary s;
  s.runs = p.num_runs();
  s.streams = p.plan->num_streams;
  if (s.runs == 0) return s;
  std::vector<StepInfo> info(p.plan->steps.size());
  for (const scheduler::Step& st : p.plan->steps)
    if (st.is_compute()) info[st.index] = describe_step(*p.plan, st);

  std::map<std::string, SummaryRow> by_label;
  for (const StepRecord& r : p.steps) {
    const StepInfo& si = info.at(r.step);
    SummaryRow& row = by_label[si.label];
    row.op = si.label;
    row.kind = si.kind;
    row.calls += 1;
    row.seconds += r.seconds();
    row.flops += si.flops;
    row.bytes += si.bytes;
  }
  const double runs = s.runs;
  for (const RunRecord& r : p.runs) s.wall_seconds += r.seconds() / runs;
  for (auto& [_, row] : by_label) {
    row.calls /= runs, row.seconds /= runs, row.flops /= runs, row.bytes /= runs;
    s.calls += row.calls, s.step_seconds += row.seconds, s.flops += row.flops, s.bytes += row.bytes;
    s.rows.push_back(row);
  }
  for (SummaryRow& row : s.rows) row.share = s.step_seconds > 0 ? row.seconds / s.step_seconds : 0;
  std::sort(s.rows.begin(), s.rows.end(), [](const SummaryRow& a, const SummaryRow& b) {
    return a.seconds != b.seconds ? a.seconds > b.seconds : a.op < b.op;
  });
  return s;
}

namespace {

// Long fused labels keep their head and tail: "fused[mul+add+...+sub]".
std::string clip(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  size_t tail = width / 3;
  return s.substr(0, width - tail - 3) + "..." + s.substr(s.size() - tail);
}

std::string calls_text(double calls) {
  char buf[32];
  std::snprintf(buf, sizeof buf, calls == std::floor(calls) ? "%.0f" : "%.2f", calls);
  return buf;
}

}  // namespace

std::string Summary::to_table(const MachinePeak* peak) const {
  if (runs == 0) return "profile: no runs recorded\n";
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "profile: %d run%s on %d stream%s; per run: %.3f ms wall, %.3f ms in %s kernel steps, "
                "%.4g GFLOP (%.2f GFLOP/s over the wall time)\n",
                runs, runs == 1 ? "" : "s", streams, streams == 1 ? "" : "s", wall_seconds * 1e3, step_seconds * 1e3,
                calls_text(calls).c_str(), flops * 1e-9, wall_seconds > 0 ? flops / wall_seconds * 1e-9 : 0.0);
  out += line;
  out += "times are per run (mean over the profiled runs); share is of the kernel time of all streams\n\n";
  const size_t w = 44;
  std::snprintf(line, sizeof line, "%-*s %-11s %6s %10s %10s %7s %10s %9s %8s%s\n", static_cast<int>(w), "op", "kind",
                "calls", "total ms", "mean us", "share", "MFLOP", "GFLOP/s", "GB/s", peak ? "   % roof" : "");
  out += line;
  const std::string rule(w + 80 + (peak ? 9 : 0), '-');
  out += rule + "\n";
  auto row_line = [&](const std::string& op, std::string_view kind, double calls_, double sec, double share,
                      double flops_, double bytes_) {
    char mean[32] = "", roof[32] = "";  // of one call, and of one op: meaningless on the total row
    if (!kind.empty()) std::snprintf(mean, sizeof mean, "%.1f", calls_ > 0 ? sec / calls_ * 1e6 : 0.0);
    if (!kind.empty() && peak)
      std::snprintf(roof, sizeof roof, " %7.1f%%", 100 * roof_fraction(flops_, bytes_, sec, *peak));
    std::snprintf(line, sizeof line, "%-*s %-11s %6s %10.3f %10s %6.1f%% %10.2f %9.2f %8.2f%s\n", static_cast<int>(w),
                  clip(op, w).c_str(), std::string(kind).c_str(), calls_text(calls_).c_str(), sec * 1e3, mean,
                  share * 100, flops_ * 1e-6, sec > 0 ? flops_ / sec * 1e-9 : 0, sec > 0 ? bytes_ / sec * 1e-9 : 0,
                  roof);
    out += line;
  };
  for (const SummaryRow& r : rows)
    row_line(r.op, step_class_name(r.kind), r.calls, r.seconds, r.share, r.flops, r.bytes);
  out += rule + "\n";
  row_line("total", "", calls, step_seconds, step_seconds > 0 ? 1.0 : 0.0, flops, bytes);
  return out;
}

}  // namespace dagrad::profiler
