#include "profiler/roofline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "profiler/html_report.h"
#include "runtime/error.h"

namespace dagrad::profiler {

double roof_gflops(double intensity, const MachinePeak& peak) {
  return std::min(peak.gflops, std::max(0.0, intensity) * peak.gbps);
}

double roof_fraction(double flops, double bytes, double seconds, const MachinePeak& peak) {
  if (seconds <= 0) return 0;
  // The least time the op needs: its FLOPs at the FMA peak or its bytes at the bandwidth.
  double best = 0;
  if (peak.gflops > 0) best = std::max(best, flops / (peak.gflops * 1e9));
  if (peak.gbps > 0) best = std::max(best, bytes / (peak.gbps * 1e9));
  return best / seconds;
}

std::vector<SummaryRow> furthest_below_roof(const Summary& s, const MachinePeak& peak, size_t count,
                                            double min_share) {
  std::vector<SummaryRow> rows;
  for (const SummaryRow& r : s.rows)
    if (r.share >= min_share && r.seconds > 0) rows.push_back(r);
  std::stable_sort(rows.begin(), rows.end(), [&](const SummaryRow& a, const SummaryRow& b) {
    return roof_fraction(a, peak) < roof_fraction(b, peak);
  });
  if (rows.size() > count) rows.resize(count);
  return rows;
}

namespace {

std::string num(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Below the ridge an op is bound by memory, above it by arithmetic.
const char* bound_by(const SummaryRow& r, const MachinePeak& peak) {
  return r.bytes > 0 && r.flops / r.bytes >= peak.ridge_flops_per_byte() ? "compute-bound" : "memory-bound";
}

}  // namespace

std::string roofline_text(const Summary& s, const MachinePeak& peak) {
  std::string out = str_cat(
      "roofline: ", peak.description, ": ", num("%.1f", peak.gflops), " GFLOP/s FMA peak, ", num("%.1f", peak.gbps),
      " GB/s triad, ridge at ", num("%.2f", peak.ridge_flops_per_byte()), " FLOP/byte (",
      peak.from_cache ? "cached peaks; dagrad profile --remeasure-peaks measures them again" : "measured now",
      "); % roof = achieved / min(peak, intensity x bandwidth)",
      s.streams > 1 ? " (kernels of concurrent streams share these peaks)\n" : "\n");
  std::vector<SummaryRow> low = furthest_below_roof(s, peak, 3);
  if (low.empty()) return out;
  out += "furthest below their roof (ops with >= 1% of the kernel time):";
  for (size_t i = 0; i < low.size(); ++i)
    out += str_cat(i ? ", " : " ", low[i].op, " ", num("%.1f", 100 * roof_fraction(low[i], peak)), "% (",
                   bound_by(low[i], peak), ", ", num("%.2f", low[i].bytes > 0 ? low[i].flops / low[i].bytes : 0),
                   " FLOP/byte)");
  out += "\n";
  // Above 100% is not an error of measurement: say why, once, naming the ops.
  std::string above;
  for (const SummaryRow& r : s.rows)
    if (const double f = roof_fraction(r, peak); r.share >= 0.01 && f > 1)
      above += str_cat(above.empty() ? " " : ", ", r.op, " ", num("%.1f", 100 * f), "%");
  if (!above.empty())
    out += str_cat("above their roof:", above,
                   " (the roof puts the cost model's FLOPs at the float32 FMA peak and its bytes at the memory "
                   "triad: Winograd convolutions do fewer multiply-adds than the direct FLOPs counted, bfloat16 "
                   "products run on AMX tiles or vdpbf16ps, and data still in cache moves faster than the triad)\n");
  return out;
}

std::string roofline_svg(const Summary& s, const MachinePeak& peak) {
  const double width = 760, height = 430, x0 = 78, y0 = 20, w = 560, h = 360;
  // Whole decades around the points and the ridge.
  double ix_min = peak.ridge_flops_per_byte(), ix_max = ix_min, gy_min = peak.gflops, gy_max = peak.gflops;
  std::vector<const SummaryRow*> points;
  for (const SummaryRow& r : s.rows) {
    if (r.flops <= 0 || r.bytes <= 0 || r.seconds <= 0) continue;  // no place on log axes
    points.push_back(&r);
    ix_min = std::min(ix_min, r.flops / r.bytes), ix_max = std::max(ix_max, r.flops / r.bytes);
    gy_min = std::min(gy_min, r.gflops_per_s()), gy_max = std::max(gy_max, r.gflops_per_s());
  }
  const double lx0 = std::floor(std::log10(std::max(ix_min, 1e-6))) , lx1 = std::ceil(std::log10(ix_max * 1.01) + 0.3);
  const double ly0 = std::floor(std::log10(std::max(gy_min, 1e-6))), ly1 = std::ceil(std::log10(gy_max * 1.5));
  auto px = [&](double i) { return x0 + (std::log10(i) - lx0) / (lx1 - lx0) * w; };
  auto py = [&](double g) { return y0 + h - (std::log10(g) - ly0) / (ly1 - ly0) * h; };

  std::ostringstream os;
  os << "<svg class=\"roofline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
     << "\" viewBox=\"0 0 " << width << " " << height << "\">\n";
  os << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << w << "\" height=\"" << h
     << "\" fill=\"#fcfcfc\" stroke=\"#999\"/>\n";
  for (double d = lx0; d <= lx1 + 1e-9; ++d)
    os << "<line class=\"grid\" x1=\"" << num("%.1f", px(std::pow(10, d))) << "\" y1=\"" << y0 << "\" x2=\""
       << num("%.1f", px(std::pow(10, d))) << "\" y2=\"" << y0 + h << "\"/><text class=\"tick\" x=\""
       << num("%.1f", px(std::pow(10, d))) << "\" y=\"" << y0 + h + 16 << "\" text-anchor=\"middle\">"
       << num("%g", std::pow(10, d)) << "</text>\n";
  for (double d = ly0; d <= ly1 + 1e-9; ++d)
    os << "<line class=\"grid\" x1=\"" << x0 << "\" y1=\"" << num("%.1f", py(std::pow(10, d))) << "\" x2=\"" << x0 + w
       << "\" y2=\"" << num("%.1f", py(std::pow(10, d))) << "\"/><text class=\"tick\" x=\"" << x0 - 6 << "\" y=\""
       << num("%.1f", py(std::pow(10, d)) + 4) << "\" text-anchor=\"end\">" << num("%g", std::pow(10, d))
       << "</text>\n";
  os << "<text class=\"tick\" x=\"" << x0 + w / 2 << "\" y=\"" << y0 + h + 34
     << "\" text-anchor=\"middle\">arithmetic intensity (FLOP/byte, cost model)</text>\n<text class=\"tick\" "
        "transform=\"translate(18,"
     << y0 + h / 2 << ") rotate(-90)\" text-anchor=\"middle\">achieved GFLOP/s</text>\n";
  // The roof: the bandwidth slope up to the ridge, then the FMA ceiling.
  const double ridge = peak.ridge_flops_per_byte(), left = std::pow(10, lx0), right = std::pow(10, lx1);
  const double foot = std::max(left, std::pow(10, ly0) / std::max(peak.gbps, 1e-12));  // where the slope enters
  os << "<polyline class=\"roof\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\""
     << num("%.2f", px(foot)) << "," << num("%.2f", py(roof_gflops(foot, peak))) << " " << num("%.2f", px(ridge)) << ","
     << num("%.2f", py(peak.gflops)) << " " << num("%.2f", px(right)) << "," << num("%.2f", py(peak.gflops))
     << "\"/>\n<text class=\"roof-label\" x=\"" << num("%.2f", px(right) - 4) << "\" y=\""
     << num("%.2f", py(peak.gflops) - 6) << "\" text-anchor=\"end\">" << num("%.1f", peak.gflops)
     << " GFLOP/s FMA peak</text>\n<text class=\"roof-label\" x=\"" << num("%.2f", px(foot) + 6) << "\" y=\""
     << num("%.2f", py(roof_gflops(foot, peak)) - 8) << "\">" << num("%.1f", peak.gbps) << " GB/s</text>\n";
  // One dot per op, area by its share of the kernel time.
  for (const SummaryRow* r : points) {
    const double i = r->flops / r->bytes, g = r->gflops_per_s(), radius = 3 + 14 * std::sqrt(r->share);
    os << "<g><title>"
       << esc(str_cat(r->op, "\n", num("%.2f", i), " FLOP/byte, ", num("%.2f", g), " GFLOP/s of a ",
                      num("%.2f", roof_gflops(i, peak)), " GFLOP/s roof: ", num("%.1f", 100 * roof_fraction(*r, peak)),
                      "% (", bound_by(*r, peak), "); ", num("%.1f", 100 * r->share), "% of the kernel time"))
       << "</title><circle cx=\"" << num("%.2f", px(i)) << "\" cy=\"" << num("%.2f", py(g)) << "\" r=\""
       << num("%.1f", radius) << "\" fill=\"" << class_colour(r->kind) << "\" fill-opacity=\"0.75\" stroke=\"#333\""
       << " stroke-width=\"0.6\"/></g>\n";
  }
  // Names of the ops that take the most time, beside their dots: right, left, above or
  // below, the first place inside the plot that no earlier name covers (else none: the
  // dot's hover still names it).
  std::vector<const SummaryRow*> named = points;
  std::stable_sort(named.begin(), named.end(), [](auto* a, auto* b) { return a->seconds > b->seconds; });
  if (named.size() > 6) named.resize(6);
  struct Box {
    double x0, y0, x1, y1;
    bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  };
  std::vector<Box> taken;
  for (const SummaryRow* r : named) {
    const std::string text = r->op.size() > 34 ? r->op.substr(0, 33) + "\xE2\x80\xA6" : r->op;
    const double cx = px(r->flops / r->bytes), cy = py(r->gflops_per_s()), radius = 3 + 14 * std::sqrt(r->share);
    const double tw = 6.3 * static_cast<double>(std::min<size_t>(r->op.size(), 34));
    const double spots[4][2] = {{cx + radius + 4, cy + 4},
                                {cx - radius - 4 - tw, cy + 4},
                                {cx - tw / 2, cy - radius - 5},
                                {cx - tw / 2, cy + radius + 13}};
    for (const auto& spot : spots) {
      const Box b{spot[0], spot[1] - 10, spot[0] + tw, spot[1] + 2};
      if (b.x0 < x0 || b.x1 > x0 + w || b.y0 < y0 || b.y1 > y0 + h) continue;
      if (std::any_of(taken.begin(), taken.end(), [&](const Box& t) { return t.overlaps(b); })) continue;
      taken.push_back(b);
      os << "<text class=\"point-label\" x=\"" << num("%.2f", spot[0]) << "\" y=\"" << num("%.2f", spot[1]) << "\">"
         << esc(text) << "</text>\n";
      break;
    }
  }
  // Legend: the kinds present.
  double ly = y0 + 10;
  std::vector<StepClass> kinds;
  for (const SummaryRow* r : points)
    if (std::find(kinds.begin(), kinds.end(), r->kind) == kinds.end()) kinds.push_back(r->kind);
  for (StepClass k : all_step_classes()) {
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) continue;
    os << "<circle cx=\"" << x0 + w + 20 << "\" cy=\"" << ly << "\" r=\"5\" fill=\"" << class_colour(k)
       << "\"/><text class=\"tick\" x=\"" << x0 + w + 30 << "\" y=\"" << ly + 4 << "\">" << step_class_name(k)
       << "</text>\n";
    ly += 18;
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace dagrad::profiler
