#include "profiler/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "profiler/critical_path.h"
#include "profiler/memory_timeline.h"
#include "profiler/roofline.h"
#include "profiler/summary.h"
#include "profiler/xml_escape.h"
#include "runtime/error.h"

namespace dagrad::profiler {

using scheduler::EventInfo;
using scheduler::ExecutionPlan;
using scheduler::Step;

std::string_view class_colour(StepClass k) {
  switch (k) {  // Tableau 10: distinct, and readable with white text
    case StepClass::conv: return "#4e79a7";
    case StepClass::gemm: return "#f28e2b";
    case StepClass::pool: return "#76b7b2";
    case StepClass::elementwise: return "#59a14f";
    case StepClass::fused: return "#edc948";
    case StepClass::reduce: return "#b07aa1";
    case StepClass::loss: return "#e15759";
    case StepClass::optimizer: return "#9c755f";
    case StepClass::other: return "#bab0ac";
  }
  return "#bab0ac";
}

namespace {

std::string esc(std::string_view s) { return xml_escape(s); }

std::string num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A tick step of 1, 2 or 5 times a power of ten giving about `target` ticks over `span`.
double nice_step(double span, int target) {
  if (span <= 0) return 1;
  double raw = span / target, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string tick_label(double v, double step) {
  int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return num(v, decimals);
}

// Text that fits `px` pixels at about 6.6 px per character (11 px sans-serif).
std::string fit(const std::string& s, double px) {
  size_t n = static_cast<size_t>(std::max(0.0, px - 6) / 6.6);
  if (s.size() <= n) return s;
  if (n < 4) return "";
  return s.substr(0, n - 1) + "\xE2\x80\xA6";  // U+2026
}

constexpr double kWidth = 1320, kLeft = 92, kRight = 24;
constexpr double kPlotW = kWidth - kLeft - kRight;

void timeline_svg(std::ostringstream& os, const Profile& p, int run, const std::vector<StepInfo>& info) {
  const ExecutionPlan& plan = *p.plan;
  // The critical path and slack of this run, by plan step.
  const RunSchedule rs = run_schedule(p, run);
  const ScheduleAnalysis crit = analyze_schedule(rs.tasks);
  std::vector<int> task_of(plan.steps.size(), -1);
  for (size_t i = 0; i < rs.tasks.size(); ++i) task_of[rs.tasks[i].step] = static_cast<int>(i);
  const Graph& g = *plan.graph;
  const RunRecord& rr = p.runs[run];
  std::vector<StepRecord> steps = p.run_steps(run);
  double t0 = rr.start_s, span = std::max(rr.seconds(), 1e-9);
  for (const StepRecord& s : steps) span = std::max(span, s.end_s - t0);
  const double lane_h = 46, lane_gap = 10, top = 30;
  const int lanes = plan.num_streams;
  const double height = top + lanes * (lane_h + lane_gap) + 6;
  auto x_of = [&](double t) { return kLeft + (t - t0) / span * kPlotW; };
  auto lane_y = [&](int s) { return top + s * (lane_h + lane_gap); };

  os << "<svg class=\"timeline\" width=\"" << kWidth << "\" height=\"" << height << "\" viewBox=\"0 0 " << kWidth << " "
     << height << "\">\n"
     << "<defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"7\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" "
        "orient=\"auto-start-reverse\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#333\"/></marker></defs>\n";
  // Time axis in milliseconds, with grid lines through every lane.
  double span_ms = span * 1e3, step = nice_step(span_ms, 10);
  for (double v = 0; v <= span_ms + 1e-9; v += step) {
    double x = kLeft + v / span_ms * kPlotW;
    os << "<line class=\"grid\" x1=\"" << num(x, 1) << "\" y1=\"" << top - 4 << "\" x2=\"" << num(x, 1) << "\" y2=\""
       << height - 6 << "\"/><text class=\"tick\" x=\"" << num(x, 1) << "\" y=\"" << top - 10
       << "\" text-anchor=\"middle\">" << tick_label(v, step) << (v == 0 ? " ms" : "") << "</text>\n";
  }
  for (int s = 0; s < lanes; ++s) {
    double y = lane_y(s);
    os << "<rect class=\"lane\" x=\"" << kLeft << "\" y=\"" << y << "\" width=\"" << kPlotW << "\" height=\"" << lane_h
       << "\"/><text class=\"lane-label\" x=\"" << kLeft - 10 << "\" y=\"" << y + lane_h / 2 + 4
       << "\" text-anchor=\"end\">stream " << s << "</text>\n";
  }
  for (const StepRecord& r : steps) {
    const StepInfo& si = info[r.step];
    double x = x_of(r.start_s), w = std::max(r.seconds() / span * kPlotW, 0.8), y = lane_y(r.stream);
    std::string members;
    for (int id : si.nodes) members += "\n  " + g.node(id).name + " (" + g.node(id).op_name() + ")";
    std::string title =
        str_cat(si.label, "\nstep ", r.step, " on stream ", r.stream, ": ", num((r.start_s - t0) * 1e3, 3), " ms + ",
                num(r.seconds() * 1e3, 3), " ms", "\n", num(si.flops * 1e-6, 2), " MFLOP (",
                num(r.seconds() > 0 ? si.flops / r.seconds() * 1e-9 : 0, 2), " GFLOP/s), ", format_bytes(si.bytes),
                " (", num(r.seconds() > 0 ? si.bytes / r.seconds() * 1e-9 : 0, 2), " GB/s)", "\nnodes:", members);
    const int t = task_of[r.step];
    const bool critical = t >= 0 && crit.on_path[t];
    if (t >= 0)
      title += str_cat("\n", critical ? "on the critical path" : "slack ",
                       critical ? "" : num(std::max(0.0, crit.times[t].slack()) * 1e3, 3) + " ms");
    os << "<g><title>" << esc(title) << "</title><rect class=\"step" << (critical ? " critical" : "") << "\" x=\""
       << num(x, 2) << "\" y=\"" << y + 3
       << "\" width=\"" << num(w, 2) << "\" height=\"" << lane_h - 6 << "\" fill=\"" << class_colour(si.kind) << "\"/>";
    std::string text = fit(si.label, w);
    if (!text.empty())
      os << "<text class=\"box-label\" x=\"" << num(x + 3, 2) << "\" y=\"" << y + lane_h / 2 + 4 << "\">" << esc(text)
         << "</text>";
    os << "</g>\n";
  }
  // Cross-stream events: producer's end to the first step after the wait.
  std::vector<const StepRecord*> at(plan.steps.size(), nullptr);
  for (const StepRecord& r : steps) at[r.step] = &r;
  for (const EventInfo& ev : plan.events) {
    const StepRecord* prod = ev.producer_step >= 0 ? at[ev.producer_step] : nullptr;
    if (!prod) continue;
    for (int w : ev.wait_steps) {
      const StepRecord* cons = nullptr;
      for (size_t i = static_cast<size_t>(w) + 1; i < plan.steps.size() && !cons; ++i)
        if (plan.steps[i].stream == plan.steps[w].stream && plan.steps[i].is_compute()) cons = at[i];
      if (!cons) continue;
      double x1 = x_of(prod->end_s), x2 = x_of(cons->start_s);
      double y1 = lane_y(prod->stream) + lane_h / 2, y2 = lane_y(cons->stream) + lane_h / 2;
      y1 += y2 > y1 ? lane_h / 2 - 3 : -(lane_h / 2 - 3);
      y2 += y2 > y1 ? -(lane_h / 2 - 3) : lane_h / 2 - 3;
      os << "<g><title>"
         << esc(str_cat("event ", ev.id, ": step ", ev.producer_step, " (stream ", prod->stream, ") -> step ",
                        cons->step, " (stream ", cons->stream, "), waited ",
                        num(std::max(0.0, cons->start_s - prod->end_s) * 1e3, 3), " ms"))
         << "</title><line class=\"flow\" x1=\"" << num(x1, 2) << "\" y1=\"" << y1 << "\" x2=\"" << num(x2, 2)
         << "\" y2=\"" << y2 << "\" marker-end=\"url(#arrow)\"/></g>\n";
    }
  }
  // The critical path's hops between streams: from a step's end to the next one's start.
  for (size_t k = 1; k < crit.path.size(); ++k) {
    const StepRecord* a = at[rs.tasks[crit.path[k - 1]].step];
    const StepRecord* b = at[rs.tasks[crit.path[k]].step];
    if (!a || !b || a->stream == b->stream) continue;
    os << "<line class=\"critical-hop\" x1=\"" << num(x_of(a->end_s), 2) << "\" y1=\""
       << lane_y(a->stream) + lane_h / 2 << "\" x2=\"" << num(x_of(b->start_s), 2) << "\" y2=\""
       << lane_y(b->stream) + lane_h / 2 << "\"/>\n";
  }
  os << "</svg>\n";
}

void memory_svg(std::ostringstream& os, const ExecutionPlan& plan, const MemoryTimeline& m,
                const std::vector<StepInfo>& info) {
  const double top = 16, plot_h = 190, strip_h = 10, height = top + plot_h + strip_h + 40;
  const size_t n = m.live_bytes.size();
  const double mib = 1024.0 * 1024.0;
  double y_max = std::max<double>({static_cast<double>(m.arena_bytes), static_cast<double>(m.peak_live_bytes), 1.0});
  y_max *= 1.12;
  double y_step = nice_step(y_max / mib, 5);
  auto x_of = [&](double i) { return kLeft + (n ? i / static_cast<double>(n) : 0) * kPlotW; };
  auto y_of = [&](double bytes) { return top + plot_h - bytes / y_max * plot_h; };

  os << "<svg class=\"memory\" width=\"" << kWidth << "\" height=\"" << height << "\" viewBox=\"0 0 " << kWidth << " "
     << height << "\">\n";
  for (double v = 0; v * mib <= y_max; v += y_step) {
    double y = y_of(v * mib);
    os << "<line class=\"grid\" x1=\"" << kLeft << "\" y1=\"" << num(y, 1) << "\" x2=\"" << kLeft + kPlotW << "\" y2=\""
       << num(y, 1) << "\"/><text class=\"tick\" x=\"" << kLeft - 8 << "\" y=\"" << num(y + 4, 1)
       << "\" text-anchor=\"end\">" << tick_label(v, y_step) << " MiB</text>\n";
  }
  // Live bytes as a step function over the issue order, filled below.
  std::ostringstream path;
  path << "M" << num(x_of(0), 2) << "," << num(y_of(0), 2);
  for (size_t i = 0; i < n; ++i) {
    double y = y_of(static_cast<double>(m.live_bytes[i]));
    path << " L" << num(x_of(static_cast<double>(i)), 2) << "," << num(y, 2) << " L"
         << num(x_of(static_cast<double>(i + 1)), 2) << "," << num(y, 2);
  }
  path << " L" << num(x_of(static_cast<double>(n)), 2) << "," << num(y_of(0), 2) << " Z";
  os << "<path class=\"live\" d=\"" << path.str() << "\"/>\n";
  double ya = y_of(static_cast<double>(m.arena_bytes));
  os << "<line class=\"arena\" x1=\"" << kLeft << "\" y1=\"" << num(ya, 2) << "\" x2=\"" << kLeft + kPlotW << "\" y2=\""
     << num(ya, 2) << "\"/><text class=\"arena-label\" x=\"" << kLeft + kPlotW - 4 << "\" y=\"" << num(ya - 5, 2)
     << "\" text-anchor=\"end\">planned arena " << esc(format_bytes(static_cast<double>(m.arena_bytes))) << "</text>\n";
  if (m.peak_step >= 0) {
    double xp = x_of(m.peak_step + 0.5), yp = y_of(static_cast<double>(m.peak_live_bytes));
    os << "<circle class=\"peak\" cx=\"" << num(xp, 2) << "\" cy=\"" << num(yp, 2)
       << "\" r=\"4\"/><text class=\"peak-label\" x=\"" << num(xp + 8, 2) << "\" y=\"" << num(yp + 14, 2) << "\">peak "
       << esc(format_bytes(static_cast<double>(m.peak_live_bytes))) << " at step " << m.peak_step << "</text>\n";
  }
  // A strip of the steps under the curve, coloured like the timeline; hover for details.
  const double ys = top + plot_h + 4;
  for (size_t i = 0; i < n; ++i) {
    const Step& st = plan.steps[i];
    double x = x_of(static_cast<double>(i)), w = std::max(x_of(static_cast<double>(i + 1)) - x, 0.5);
    std::string what = st.is_compute() ? info[i].label : str_cat(step_kind_name(st.kind), " event ", st.event);
    os << "<g><title>"
       << esc(str_cat("step ", i, " (stream ", st.stream, "): ", what, "\nlive ",
                      format_bytes(static_cast<double>(m.live_bytes[i]))))
       << "</title><rect x=\"" << num(x, 2) << "\" y=\"" << top << "\" width=\"" << num(w, 2) << "\" height=\""
       << plot_h + strip_h + 4 << "\" fill=\"transparent\"/><rect x=\"" << num(x, 2) << "\" y=\"" << ys << "\" width=\""
       << num(w, 2) << "\" height=\"" << strip_h << "\" fill=\""
       << (st.is_compute() ? class_colour(info[i].kind) : std::string_view("#ffffff")) << "\"/></g>\n";
  }
  double step_tick = nice_step(static_cast<double>(n), 12);
  for (double v = 0; v <= static_cast<double>(n); v += step_tick)
    os << "<text class=\"tick\" x=\"" << num(x_of(v), 1) << "\" y=\"" << ys + strip_h + 16
       << "\" text-anchor=\"middle\">" << tick_label(v, step_tick) << "</text>\n";
  os << "<text class=\"tick\" x=\"" << kLeft + kPlotW / 2 << "\" y=\"" << height - 4
     << "\" text-anchor=\"middle\">plan step (issue order)</text>\n</svg>\n";
}

void summary_table_html(std::ostringstream& os, const Summary& s, const MachinePeak* peak) {
  os << "<table class=\"summary\"><thead><tr><th>op</th><th>kind</th><th>calls</th><th>total ms</th><th>mean &micro;s"
        "</th><th class=\"share\">share</th><th>MFLOP</th><th>GFLOP/s</th><th>GB/s</th>"
     << (peak ? "<th>% roof</th>" : "") << "</tr></thead><tbody>\n";
  auto row = [&](const std::string& op, const std::string& kind_cell, double calls, double sec, double share,
                 double flops, double bytes, const char* cls) {
    const bool total = std::string_view(cls) == "total";
    os << "<tr class=\"" << cls << "\"><td class=\"op\">" << esc(op) << "</td><td>" << kind_cell << "</td><td>"
       << num(calls, calls == std::floor(calls) ? 0 : 2) << "</td><td>" << num(sec * 1e3, 3) << "</td><td>"
       << (total ? "" : num(calls > 0 ? sec / calls * 1e6 : 0, 1))
       << "</td><td class=\"share\"><div class=\"bar\" style=\"width:" << num(share * 100, 1) << "%\"></div><span>"
       << num(share * 100, 1) << "%</span></td><td>" << num(flops * 1e-6, 2) << "</td><td>"
       << num(sec > 0 ? flops / sec * 1e-9 : 0, 2) << "</td><td>" << num(sec > 0 ? bytes / sec * 1e-9 : 0, 2)
       << "</td>";
    if (peak) os << "<td>" << (total ? "" : num(100 * roof_fraction(flops, bytes, sec, *peak), 1) + "%") << "</td>";
    os << "</tr>\n";
  };
  for (const SummaryRow& r : s.rows)
    row(r.op,
        str_cat("<span class=\"swatch\" style=\"background:", class_colour(r.kind), "\"></span>", step_class_name(r.kind)),
        r.calls, r.seconds, r.share, r.flops, r.bytes, "");
  row("total", "", s.calls, s.step_seconds, 1, s.flops, s.bytes, "total");
  os << "</tbody></table>\n";
}

constexpr const char* kStyle = R"(
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222; margin: 24px 32px; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 26px 0 6px; }
p.meta { color: #555; margin: 2px 0; }
svg { background: #fff; border: 1px solid #ddd; border-radius: 4px; display: block; }
svg text { font: 11px "DejaVu Sans", sans-serif; }
.grid { stroke: #e6e6e6; stroke-width: 1; }
.tick { fill: #666; }
.lane { fill: #f3f3f3; }
.lane-label { fill: #333; font-weight: bold; }
.step { stroke: #fff; stroke-width: 0.6; }
.step:hover { stroke: #000; stroke-width: 1.5; }
.step.critical { stroke: #d62728; stroke-width: 2.5; }
.critical-hop { stroke: #d62728; stroke-width: 2; stroke-dasharray: 4 3; pointer-events: none; }
.roof-label { fill: #d62728; }
.point-label { fill: #333; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.swatch.critical { background: #fff; border: 2.5px solid #d62728; width: 8px; height: 8px; }
pre.critical { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 8px 12px; white-space: pre-wrap;
               font-size: 12px; }
.box-label { fill: #fff; pointer-events: none; }
.flow { stroke: #333; stroke-width: 1; opacity: 0.55; }
.live { fill: #4e79a733; stroke: #4e79a7; stroke-width: 1.5; }
.arena { stroke: #e15759; stroke-width: 1.2; stroke-dasharray: 6 4; }
.arena-label { fill: #e15759; }
.peak { fill: #e15759; }
.peak-label { fill: #333; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.legend { margin: 8px 0 0; }
.legend span.item { margin-right: 16px; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 5px; }
table.summary { border-collapse: collapse; background: #fff; border: 1px solid #ddd; }
table.summary th, table.summary td { padding: 4px 10px; text-align: right; border-bottom: 1px solid #eee; white-space: nowrap; }
table.summary th { background: #f0f0f0; }
table.summary td.op, table.summary th:first-child, table.summary td:nth-child(2), table.summary th:nth-child(2) { text-align: left; }
table.summary td.op { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; max-width: 560px; overflow: hidden; text-overflow: ellipsis; }
td.share { position: relative; min-width: 90px; }
td.share .bar { position: absolute; left: 0; top: 3px; bottom: 3px; background: #4e79a740; }
td.share span { position: relative; }
tr.total td { font-weight: bold; border-top: 2px solid #ccc; }
code { background: #eee; padding: 1px 4px; border-radius: 3px; }
)";

}  // namespace

std::string html_report(const Profile& p, const std::string& title, const std::vector<WhatIfResult>& what_ifs,
                        const MachinePeak* peak) {
  DAGRAD_ASSERT(p.plan != nullptr);
  const ExecutionPlan& plan = *p.plan;
  std::vector<StepInfo> info(plan.steps.size());
  for (const Step& st : plan.steps)
    if (st.is_compute()) info[st.index] = describe_step(plan, st);
  Summary s = summarize(p);
  MemoryTimeline mem = memory_timeline(plan);

  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dagrad profile: " << esc(title)
     << "</title><style>" << kStyle << "</style></head>\n<body>\n<h1>dagrad profile: " << esc(title) << "</h1>\n"
     << "<p class=\"meta\">plan: " << esc(plan.summary()) << "</p>\n";
  if (s.runs == 0) {
    os << "<p>No runs were recorded.</p>\n</body></html>\n";
    return os.str();
  }
  os << "<p class=\"meta\">" << s.runs << " profiled run" << (s.runs == 1 ? "" : "s")
     << "; per run: " << num(s.wall_seconds * 1e3, 2) << " ms wall, " << num(s.step_seconds * 1e3, 2) << " ms in "
     << num(s.calls, 0) << " kernel steps over " << s.streams << " stream" << (s.streams == 1 ? "" : "s") << ", "
     << num(s.flops * 1e-9, 3) << " GFLOP (" << num(s.wall_seconds > 0 ? s.flops / s.wall_seconds * 1e-9 : 0, 2)
     << " GFLOP/s over the wall time)</p>\n";

  int run = p.median_run();
  os << "<h2>Timeline of run " << run << " (median wall time, " << num(p.runs[run].seconds() * 1e3, 2)
     << " ms)</h2>\n<p class=\"meta\">Hover a box for its nodes, time, FLOPs, bytes and slack; arrows are "
        "cross-stream events; red outlines mark the critical path, dashed red lines its hops between streams. "
        "Open <code>trace.json</code> in ui.perfetto.dev or chrome://tracing for every run.</p>\n";
  timeline_svg(os, p, run, info);
  os << "<div class=\"legend\">";
  for (StepClass k : all_step_classes())
    os << "<span class=\"item\"><span class=\"swatch\" style=\"background:" << class_colour(k) << "\"></span>"
       << step_class_name(k) << "</span>";
  os << "<span class=\"item\"><span class=\"swatch critical\"></span>critical path</span></div>\n";

  os << "<h2>Critical path</h2>\n<pre class=\"critical\">" << esc(critical_path_text(p, false)) << "</pre>\n";
  if (!what_ifs.empty()) {
    os << "<p class=\"meta\">What-ifs replay the median run's schedule (dependencies and dispatch gaps kept, "
          "concurrent kernels sharing the machine) with the named steps sped up by their factor.</p>\n"
          "<table class=\"summary what-if\"><thead><tr><th>what-if</th><th>steps</th><th>their ms</th>"
          "<th>predicted ms</th><th>measured ms</th><th>change</th></tr></thead><tbody>\n";
    for (const WhatIfResult& w : what_ifs)
      os << "<tr><td class=\"op\">" << esc(w.what) << "</td><td>" << w.steps << "</td><td>"
         << num(w.step_seconds * 1e3, 3) << "</td><td>" << num(w.predicted_wall * 1e3, 3) << "</td><td>"
         << num(w.measured_wall * 1e3, 3) << "</td><td>"
         << num(w.measured_wall > 0 ? (w.predicted_wall / w.measured_wall - 1) * 100 : 0, 1) << "%</td></tr>\n";
    os << "</tbody></table>\n";
  }

  os << "<h2>Memory plan</h2>\n<p class=\"meta\">" << esc(mem.to_text(plan)) << "</p>\n";
  memory_svg(os, plan, mem, info);

  os << "<h2>Per-op summary</h2>\n<p class=\"meta\">Per run, mean over " << s.runs
     << " runs; share is of the kernel time of all streams; GFLOP/s and GB/s from the cost model.</p>\n";
  summary_table_html(os, s, peak);
  if (peak) {
    os << "<h2>Roofline</h2>\n";
    std::istringstream lines(roofline_text(s, *peak));
    for (std::string line; std::getline(lines, line);) os << "<p class=\"meta\">" << esc(line) << "</p>\n";
    os << "<p class=\"meta\">Each dot is an op: its arithmetic intensity and achieved rate from the cost model, its "
          "area its share of the kernel time; hover for numbers. Ops without FLOPs are not drawn.</p>\n"
       << roofline_svg(s, *peak);
  }
  os << "<p class=\"meta\">Files: <code>trace.json</code>, <code>summary.txt</code>, <code>plan.txt</code>, "
        "<code>plan.dot</code>, <code>plan.json</code>.</p>\n</body></html>\n";
  return os.str();
}

}  // namespace dagrad::profiler
