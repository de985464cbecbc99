#include "bench/sweep_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "profiler/xml_escape.h"

namespace dagrad::bench {

namespace {

const char* const kColors[] = {"#1a73e8", "#188038", "#e8710a", "#a142f4", "#d93025"};
const char* color_of(size_t device) { return kColors[device % std::size(kColors)]; }

std::string fmt(const char* f, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// 1024 -> "1K", 268435456 -> "256M": sizes on the x axis.
std::string size_label(double v) {
  const char* suffix[] = {"", "K", "M", "G"};
  int i = 0;
  while (v >= 1024 && i < 3 && std::fmod(v, 1024) == 0) v /= 1024, ++i;
  return fmt("%g", v) + suffix[i];
}

// 1e-6 -> "1 us": decades of seconds on the time axis.
std::string seconds_label(double s) {
  if (s >= 1) return fmt("%g s", s);
  if (s >= 1e-3) return fmt("%g ms", s * 1e3);
  if (s >= 1e-6) return fmt("%g us", s * 1e6);
  return fmt("%g ns", s * 1e9);
}

// A log-log plot area: x in log2, y in log10, both over whole ranges given by the caller.
struct LogPanel {
  double x0, y0, w, h;
  double lx_min, lx_max;  // log2 of the size range
  double ly_min, ly_max;  // log10 of the value range (whole decades)
  double px(double x) const { return x0 + (lx_max == lx_min ? 0.5 : (std::log2(x) - lx_min) / (lx_max - lx_min)) * w; }
  double py(double y) const { return y0 + h - (std::log10(y) - ly_min) / (ly_max - ly_min) * h; }
};

void draw_axes(std::ostringstream& os, const LogPanel& p, const std::string& title, const std::string& xlabel,
               bool seconds) {
  os << "<rect x='" << p.x0 << "' y='" << p.y0 << "' width='" << p.w << "' height='" << p.h
     << "' fill='#fafafa' stroke='#999'/>\n";
  for (int d = static_cast<int>(p.ly_min); d <= static_cast<int>(p.ly_max); ++d) {
    const double v = std::pow(10.0, d), y = p.py(v);
    os << "<line x1='" << p.x0 << "' y1='" << y << "' x2='" << p.x0 + p.w << "' y2='" << y
       << "' stroke='#e0e0e0'/><text x='" << p.x0 - 6 << "' y='" << y + 4 << "' text-anchor='end'>"
       << (seconds ? seconds_label(v) : fmt("%g", v)) << "</text>\n";
  }
  const int lo = static_cast<int>(std::ceil(p.lx_min)), hi = static_cast<int>(std::floor(p.lx_max));
  const int stride = std::max(1, (hi - lo + 8) / 9);  // at most ~9 labels
  for (int k = lo; k <= hi; k += stride) {
    const double x = p.px(std::ldexp(1.0, k));
    os << "<line x1='" << x << "' y1='" << p.y0 << "' x2='" << x << "' y2='" << p.y0 + p.h
       << "' stroke='#eeeeee'/><text x='" << x << "' y='" << p.y0 + p.h + 16 << "' text-anchor='middle'>"
       << size_label(std::ldexp(1.0, k)) << "</text>\n";
  }
  os << "<text x='" << p.x0 + p.w / 2 << "' y='" << p.y0 + p.h + 34 << "' text-anchor='middle'>" << xml_escape(xlabel)
     << "</text>\n";
  os << "<text x='" << p.x0 << "' y='" << p.y0 - 8 << "' font-weight='bold'>" << xml_escape(title) << "</text>\n";
}

void draw_series(std::ostringstream& os, const LogPanel& p, const std::vector<std::pair<double, double>>& xy,
                 const char* color) {
  os << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
  for (auto [x, y] : xy) os << p.px(x) << ',' << p.py(y) << ' ';
  os << "'/>\n";
  for (auto [x, y] : xy)
    os << "<circle cx='" << p.px(x) << "' cy='" << p.py(y) << "' r='2.5' fill='" << color << "'/>\n";
}

// A horizontal ceiling with its label above it, at the right end or (left) the left one.
void draw_ceiling(std::ostringstream& os, const LogPanel& p, double y, const char* color, const char* dash,
                  const std::string& label, bool left) {
  const double py = p.py(y);
  os << "<line x1='" << p.x0 << "' y1='" << py << "' x2='" << p.x0 + p.w << "' y2='" << py << "' stroke='" << color
     << "' stroke-width='1.5' stroke-dasharray='" << dash << "'/><text x='" << (left ? p.x0 + 4 : p.x0 + p.w - 4)
     << "' y='" << py - 4 << "' text-anchor='" << (left ? "start" : "end") << "' fill='" << color << "'>"
     << xml_escape(label) << "</text>\n";
}

std::string op_title(SweepOp op) {
  switch (op) {
    case SweepOp::matmul: return "matmul: [N,N] x [N,N], float32";
    case SweepOp::square: return "square: x * x over n float32 numbers";
    case SweepOp::conv: return "conv: the MNIST CNN's conv2, x [B,32,26,26] * weight [64,32,3,3], float32";
  }
  return "";
}

std::string x_label(SweepOp op) {
  switch (op) {
    case SweepOp::matmul: return "N";
    case SweepOp::square: return "elements";
    case SweepOp::conv: return "batch";
  }
  return "";
}

}  // namespace

std::string sweep_svg(const SweepResult& r, const std::string& title) {
  std::vector<SweepOp> ops;
  for (const SweepPoint& p : r.points)
    if (std::find(ops.begin(), ops.end(), p.op) == ops.end()) ops.push_back(p.op);
  const double width = 960, row_h = 340, top = 56 + 16.0 * static_cast<double>(r.devices.size());
  const double height = top + row_h * static_cast<double>(std::max<size_t>(ops.size(), 1));
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
     << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
     << "<text x='" << width / 2 << "' y='20' text-anchor='middle' font-size='14'>" << xml_escape(title) << "</text>\n";
  // Legend: one line per device with its peaks.
  for (size_t d = 0; d < r.devices.size(); ++d) {
    const SweepDevice& sd = r.devices[d];
    const double y = 40 + 16.0 * static_cast<double>(d);
    os << "<line x1='70' y1='" << y - 4 << "' x2='90' y2='" << y - 4 << "' stroke='" << color_of(d)
       << "' stroke-width='2'/><text x='96' y='" << y << "'>"
       << xml_escape(sd.name + ": " + sd.peak.description + "; measured peak " + fmt("%.0f", sd.peak.gflops) +
                     " GFLOP/s (dashed), " + fmt("%.1f", sd.peak.gbps) + " GB/s")
       << "</text>\n";
  }
  for (size_t row = 0; row < ops.size(); ++row) {
    const SweepOp op = ops[row];
    double xmin = INFINITY, xmax = 0, tmin = INFINITY, tmax = 0, gmin = INFINITY, gmax = 0;
    for (const SweepPoint& p : r.points) {
      if (p.op != op) continue;
      xmin = std::min(xmin, double(p.size)), xmax = std::max(xmax, double(p.size));
      tmin = std::min(tmin, p.median_s), tmax = std::max(tmax, p.median_s);
      if (p.gflops() > 0) gmin = std::min(gmin, p.gflops()), gmax = std::max(gmax, p.gflops());
    }
    // The ceilings of each device, in GFLOP/s: its FMA peak, and its bandwidth times the
    // op's intensity when that is the lower one (a memory-bound op).
    std::vector<std::pair<double, double>> ceilings(r.devices.size(), {0, 0});
    for (size_t d = 0; d < r.devices.size(); ++d) {
      const SweepPoint* largest = nullptr;
      for (const SweepPoint& p : r.points)
        if (p.op == op && p.device == r.devices[d].device && (!largest || p.size > largest->size)) largest = &p;
      if (!largest) continue;
      const profiler::MachinePeak& peak = r.devices[d].peak;
      ceilings[d].first = peak.gflops;
      const double intensity = largest->bytes > 0 ? largest->flops / largest->bytes : 0;
      if (intensity > 0 && intensity < peak.ridge_flops_per_byte()) ceilings[d].second = peak.gbps * intensity;
      for (double c : {ceilings[d].first, ceilings[d].second})
        if (c > 0) gmin = std::min(gmin, c), gmax = std::max(gmax, c);
    }
    if (!(xmax > 0 && tmax > 0 && gmax > 0)) continue;
    const double y0 = top + row_h * static_cast<double>(row) + 44;
    os << "<text x='" << width / 2 << "' y='" << y0 - 28 << "' text-anchor='middle' font-size='13' font-weight='bold'>"
       << xml_escape(op_title(op)) << "</text>\n";
    auto decades = [](double lo, double hi) {
      double a = std::floor(std::log10(lo)), b = std::ceil(std::log10(hi));
      return std::pair{a, b > a ? b : a + 1};
    };
    auto [t0, t1] = decades(tmin, tmax);
    auto [g0, g1] = decades(gmin, gmax * 1.3);  // headroom for the ceilings' labels
    LogPanel time{70, y0, 380, 230, std::log2(xmin), std::log2(xmax), t0, t1};
    LogPanel rate{550, y0, 380, 230, std::log2(xmin), std::log2(xmax), g0, g1};
    draw_axes(os, time, "time per run (median)", x_label(op), true);
    draw_axes(os, rate, "GFLOP/s (cost-model FLOPs / median time)", x_label(op), false);
    for (size_t d = 0; d < r.devices.size(); ++d) {
      std::vector<std::pair<double, double>> ts, gs;
      for (const SweepPoint& p : r.points) {
        if (p.op != op || p.device != r.devices[d].device) continue;
        if (p.median_s > 0) ts.emplace_back(double(p.size), p.median_s);
        if (p.gflops() > 0) gs.emplace_back(double(p.size), p.gflops());
      }
      if (ts.empty()) continue;
      draw_series(os, time, ts, color_of(d));
      draw_series(os, rate, gs, color_of(d));
      const std::string dev = r.devices[d].device.to_string();
      if (ceilings[d].first > 0)
        draw_ceiling(os, rate, ceilings[d].first, color_of(d), "6,4",
                     dev + " peak " + fmt("%.0f", ceilings[d].first) + " GFLOP/s", false);
      if (ceilings[d].second > 0)
        draw_ceiling(os, rate, ceilings[d].second, color_of(d), "2,3",
                     dev + " memory bound " + fmt("%.3g", ceilings[d].second) + " GFLOP/s (" +
                         fmt("%.1f", r.devices[d].peak.gbps) + " GB/s)",
                     true);  // small sizes sit low on the left: room for the label
    }
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace dagrad::bench
