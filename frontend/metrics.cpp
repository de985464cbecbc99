#include "frontend/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "frontend/data/atomic_file.h"
#include "runtime/error.h"

namespace dagrad {

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(text.data()), text.size());
  write_file_atomic(path, std::span<const std::span<const std::byte>>(&bytes, 1));
}

double score_named(const std::vector<Score>& scores, std::string_view name) {
  std::string known;
  for (const Score& sc : scores) {
    if (sc.name == name) return sc.value;
    known += (known.empty() ? "" : ", ") + sc.name;
  }
  throw ValueError(str_cat("no score named '", name, "' (the objective reports ", known.empty() ? "none" : known, ")"));
}

void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochMetrics>& rows) {
  std::ostringstream os;
  os << "epoch,train_loss,test_loss";
  const size_t scores = rows.empty() ? 0 : rows.front().test_scores.size();
  for (size_t k = 0; k < scores; ++k) os << ",test_" << rows.front().test_scores[k].name;
  os << ",seconds,images_per_second\n";
  for (const auto& r : rows) {
    os << r.epoch << ',' << r.train_loss << ',' << r.test_loss;
    for (size_t k = 0; k < scores; ++k) os << ',' << (k < r.test_scores.size() ? r.test_scores[k].value : NAN);
    os << ',' << r.seconds << ',' << r.images_per_second << '\n';
  }
  write_text_atomically(path, os.str());
}

namespace {

struct Panel {
  double x0, y0, w, h;  // pixel box of the plot area
  double xmin, xmax, ymin, ymax;
  double px(double x) const { return x0 + (xmax == xmin ? 0.5 : (x - xmin) / (xmax - xmin)) * w; }
  double py(double y) const { return y0 + h - (ymax == ymin ? 0.5 : (y - ymin) / (ymax - ymin)) * h; }
};

std::string fmt(double v, int prec = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", prec, v);
  return buf;
}

void axes(std::ostringstream& os, const Panel& p, const std::string& ylabel, int epochs) {
  os << "<rect x='" << p.x0 << "' y='" << p.y0 << "' width='" << p.w << "' height='" << p.h
     << "' fill='#fafafa' stroke='#999'/>\n";
  for (int i = 0; i <= 4; ++i) {
    double v = p.ymin + (p.ymax - p.ymin) * i / 4.0;
    double y = p.py(v);
    os << "<line x1='" << p.x0 << "' y1='" << y << "' x2='" << p.x0 + p.w << "' y2='" << y
       << "' stroke='#e0e0e0'/><text x='" << p.x0 - 6 << "' y='" << y + 4 << "' text-anchor='end'>" << fmt(v)
       << "</text>\n";
  }
  int step = std::max(1, epochs / 10);
  for (int e = 1; e <= epochs; e += step)
    os << "<text x='" << p.px(e) << "' y='" << p.y0 + p.h + 16 << "' text-anchor='middle'>" << e << "</text>\n";
  os << "<text x='" << p.x0 + p.w / 2 << "' y='" << p.y0 + p.h + 34 << "' text-anchor='middle'>epoch</text>\n";
  os << "<text x='" << p.x0 << "' y='" << p.y0 - 8 << "' font-weight='bold'>" << ylabel << "</text>\n";
}

void line(std::ostringstream& os, const Panel& p, const std::vector<EpochMetrics>& rows,
          const std::function<double(const EpochMetrics&)>& get, const char* color, const char* label,
          int legend_row) {
  os << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
  for (const auto& r : rows) os << p.px(r.epoch) << ',' << p.py(get(r)) << ' ';
  os << "'/>\n";
  for (const auto& r : rows)
    os << "<circle cx='" << p.px(r.epoch) << "' cy='" << p.py(get(r)) << "' r='3' fill='" << color << "'/>\n";
  double lx = p.x0 + p.w - 120, ly = p.y0 + 14 + 16 * legend_row;
  os << "<line x1='" << lx << "' y1='" << ly - 4 << "' x2='" << lx + 18 << "' y2='" << ly - 4 << "' stroke='" << color
     << "' stroke-width='2'/><text x='" << lx + 24 << "' y='" << ly << "'>" << label << "</text>\n";
}

}  // namespace

std::string metrics_svg(const std::vector<EpochMetrics>& rows, const std::string& title) {
  const double width = 760, height = 330;
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
     << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
     << "<text x='" << width / 2 << "' y='20' text-anchor='middle' font-size='14'>" << title << "</text>\n";
  int epochs = rows.empty() ? 1 : rows.back().epoch;
  double lmax = -INFINITY;
  for (const auto& r : rows) lmax = std::max({lmax, r.train_loss, r.test_loss});
  if (rows.empty()) lmax = 1;
  Panel loss{60, 50, 300, 230, 1, double(epochs), 0, lmax * 1.05};
  // The right panel: the first score (classification: accuracy in percent).
  const Score* first = rows.empty() || rows.front().test_scores.empty() ? nullptr : &rows.front().test_scores.front();
  const double scale = first && first->fraction ? 100 : 1;
  auto score = [&](const EpochMetrics& r) { return r.test_scores.empty() ? NAN : r.test_scores.front().value * scale; };
  Panel right{440, 50, 300, 230, 1, double(epochs), 0, 1};
  std::string label;
  if (first) {
    double smin = INFINITY, smax = -INFINITY;
    for (const auto& r : rows) smin = std::min(smin, score(r)), smax = std::max(smax, score(r));
    if (first->fraction) {
      right.ymin = std::floor(smin - 1), right.ymax = std::min(100.0, std::ceil(smax + 1));
    } else {
      const double pad = 0.05 * (smax - smin);
      right.ymin = smin - pad, right.ymax = smax + pad;
    }
    label = "test " + first->name;
    std::replace(label.begin(), label.end(), '_', ' ');
  }
  axes(os, loss, "loss", epochs);
  if (first) axes(os, right, first->fraction ? label + " (%)" : label, epochs);
  line(os, loss, rows, [](const EpochMetrics& r) { return r.train_loss; }, "#1a73e8", "train loss", 0);
  line(os, loss, rows, [](const EpochMetrics& r) { return r.test_loss; }, "#e8710a", "test loss", 1);
  if (first) line(os, right, rows, score, "#188038", label.c_str(), 0);
  os << "</svg>\n";
  return os.str();
}

}  // namespace dagrad
