#include "frontend/metrics.h"

#include <algorithm>
#include <array>
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

std::vector<double> smooth_losses(const std::vector<double>& losses, double beta) {
  if (!(beta >= 0 && beta < 1)) throw ValueError(str_cat("[metrics] smoothing weight ", beta, " is not in [0, 1)"));
  std::vector<double> out;
  out.reserve(losses.size());
  double avg = 0, decay = 1;  // decay = beta^n: the weight the zero start still has
  for (double v : losses) {
    avg = beta * avg + (1 - beta) * v;
    decay *= beta;
    out.push_back(avg / (1 - decay));
  }
  return out;
}

namespace {

// Every step's loss in `rows`, in order (the smoothing runs across epochs).
std::vector<double> all_step_losses(const std::vector<EpochMetrics>& rows) {
  std::vector<double> out;
  for (const auto& r : rows) out.insert(out.end(), r.step_losses.begin(), r.step_losses.end());
  return out;
}

}  // namespace

void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochMetrics>& rows) {
  std::ostringstream os;
  os << "row,epoch,step,train_loss,smoothed_train_loss,test_loss";
  const size_t scores = rows.empty() ? 0 : rows.front().test_scores.size();
  for (size_t k = 0; k < scores; ++k) os << ",test_" << rows.front().test_scores[k].name;
  os << ",seconds,images_per_second\n";
  const std::string step_tail(scores + 3, ',');  // empty test, score, seconds, images/s columns
  const std::vector<double> smoothed = smooth_losses(all_step_losses(rows));
  size_t i = 0;
  for (const auto& r : rows) {
    for (size_t s = 0; s < r.step_losses.size(); ++s, ++i)
      os << "step," << r.epoch << ',' << r.first_step + static_cast<int64_t>(s) << ',' << r.step_losses[s] << ','
         << smoothed[i] << step_tail << '\n';
    os << "epoch," << r.epoch << ',';
    if (!r.step_losses.empty()) os << r.first_step + static_cast<int64_t>(r.step_losses.size()) - 1;
    os << ',' << r.train_loss << ",," << r.test_loss;
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

void axes(std::ostringstream& os, const Panel& p, const std::string& ylabel) {
  os << "<rect x='" << p.x0 << "' y='" << p.y0 << "' width='" << p.w << "' height='" << p.h
     << "' fill='#fafafa' stroke='#999'/>\n";
  for (int i = 0; i <= 4; ++i) {
    double v = p.ymin + (p.ymax - p.ymin) * i / 4.0;
    double y = p.py(v);
    os << "<line x1='" << p.x0 << "' y1='" << y << "' x2='" << p.x0 + p.w << "' y2='" << y
       << "' stroke='#e0e0e0'/><text x='" << p.x0 - 6 << "' y='" << y + 4 << "' text-anchor='end'>" << fmt(v)
       << "</text>\n";
  }
  const int first = static_cast<int>(p.xmin), last = static_cast<int>(p.xmax);
  int step = std::max(1, (last - first) / 10);
  for (int e = first; e <= last; e += step)
    os << "<text x='" << p.px(e) << "' y='" << p.y0 + p.h + 16 << "' text-anchor='middle'>" << e << "</text>\n";
  os << "<text x='" << p.x0 + p.w / 2 << "' y='" << p.y0 + p.h + 34 << "' text-anchor='middle'>epoch</text>\n";
  os << "<text x='" << p.x0 << "' y='" << p.y0 - 8 << "' font-weight='bold'>" << ylabel << "</text>\n";
}

void legend(std::ostringstream& os, const Panel& p, const char* color, const char* label, int row, double width = 2,
            double opacity = 1) {
  double lx = p.x0 + p.w - 150, ly = p.y0 + 14 + 16 * row;
  // A veil under the entry, so the curves it covers do not cross its text.
  os << "<rect x='" << lx - 4 << "' y='" << ly - 12 << "' width='150' height='16' fill='white' fill-opacity='0.8'/>";
  os << "<line x1='" << lx << "' y1='" << ly - 4 << "' x2='" << lx + 18 << "' y2='" << ly - 4 << "' stroke='" << color
     << "' stroke-width='" << width << "' stroke-opacity='" << opacity << "'/><text x='" << lx + 24 << "' y='" << ly
     << "'>" << label << "</text>\n";
}

void line(std::ostringstream& os, const Panel& p, const std::vector<EpochMetrics>& rows,
          const std::function<double(const EpochMetrics&)>& get, const char* color, const char* label,
          int legend_row) {
  os << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
  for (const auto& r : rows) os << p.px(r.epoch) << ',' << p.py(get(r)) << ' ';
  os << "'/>\n";
  for (const auto& r : rows)
    os << "<circle cx='" << p.px(r.epoch) << "' cy='" << p.py(get(r)) << "' r='3' fill='" << color << "'/>\n";
  legend(os, p, color, label, legend_row);
}

// Step i of an epoch of n steps sits at (epoch - 1) + (i + 1) / n: its last step at the
// epoch's own point.
std::vector<double> step_positions(const std::vector<EpochMetrics>& rows) {
  std::vector<double> x;
  for (const auto& r : rows) {
    const double n = static_cast<double>(r.step_losses.size());
    for (size_t i = 0; i < r.step_losses.size(); ++i) x.push_back(r.epoch - 1 + static_cast<double>(i + 1) / n);
  }
  return x;
}

// A long run has more steps than the panel has pixels: per pixel column, its lowest and
// highest loss keep the spikes visible at a bounded file size.
void step_series(std::ostringstream& os, const Panel& p, const std::vector<double>& x, const std::vector<double>& y,
                 const char* cls, const char* color, double width, double opacity, bool envelope) {
  const size_t n = x.size(), columns = static_cast<size_t>(p.w);
  os << "<polyline class='" << cls << "' fill='none' stroke='" << color << "' stroke-width='" << width
     << "' stroke-opacity='" << opacity << "' points='";
  if (n <= 2 * columns) {
    for (size_t i = 0; i < n; ++i) os << fmt(p.px(x[i]), 5) << ',' << fmt(p.py(y[i]), 5) << ' ';
  } else {
    for (size_t c = 0; c < columns; ++c) {
      const size_t b = n * c / columns, e = n * (c + 1) / columns;
      if (!envelope) {  // a smooth line: its value at the column's end is enough
        os << fmt(p.px(x[e - 1]), 5) << ',' << fmt(p.py(y[e - 1]), 5) << ' ';
        continue;
      }
      const auto first = y.begin() + static_cast<std::ptrdiff_t>(b), last = y.begin() + static_cast<std::ptrdiff_t>(e);
      const auto [lo, hi] = std::minmax_element(first, last);
      const double xm = p.px(x[(b + e) / 2]);
      // In the order they happened, so the line does not zigzag backwards.
      for (double v : lo < hi ? std::array{*lo, *hi} : std::array{*hi, *lo})
        os << fmt(xm, 5) << ',' << fmt(p.py(v), 5) << ' ';
    }
  }
  os << "'/>\n";
}

}  // namespace

std::string metrics_svg(const std::vector<EpochMetrics>& rows, const std::string& title) {
  const double width = 760, height = 330;
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
     << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
     << "<text x='" << width / 2 << "' y='20' text-anchor='middle' font-size='14'>" << title << "</text>\n";
  int epochs = rows.empty() ? 1 : rows.back().epoch;
  const std::vector<double> steps = all_step_losses(rows);
  // With steps, the axis starts where the first epoch shown starts, so its steps fit.
  const double xmin = steps.empty() || rows.empty() ? 1 : rows.front().epoch - 1;
  double lmax = -INFINITY;
  for (const auto& r : rows) lmax = std::max({lmax, r.train_loss, r.test_loss});
  for (double v : steps) lmax = std::max(lmax, v);
  if (rows.empty()) lmax = 1;
  Panel loss{60, 50, 300, 230, xmin, double(epochs), 0, lmax * 1.05};
  // The right panel: the first score (classification: accuracy in percent).
  const Score* first = rows.empty() || rows.front().test_scores.empty() ? nullptr : &rows.front().test_scores.front();
  const double scale = first && first->fraction ? 100 : 1;
  auto score = [&](const EpochMetrics& r) { return r.test_scores.empty() ? NAN : r.test_scores.front().value * scale; };
  Panel right{440, 50, 300, 230, xmin, double(epochs), 0, 1};
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
  axes(os, loss, "loss");
  if (first) axes(os, right, first->fraction ? label + " (%)" : label);
  int row = 0;
  if (!steps.empty()) {
    const std::vector<double> x = step_positions(rows);
    step_series(os, loss, x, steps, "step-loss", "#7baaf7", 1, 0.55, true);
    step_series(os, loss, x, smooth_losses(steps), "smoothed-loss", "#1a73e8", 2, 1, false);
    legend(os, loss, "#7baaf7", "train loss per step", row++, 1, 0.55);
    legend(os, loss, "#1a73e8", "smoothed (EMA 0.95)", row++);
  }
  line(os, loss, rows, [](const EpochMetrics& r) { return r.train_loss; }, steps.empty() ? "#1a73e8" : "#0b3d91",
       steps.empty() ? "train loss" : "train loss (epoch mean)", row++);
  line(os, loss, rows, [](const EpochMetrics& r) { return r.test_loss; }, "#e8710a", "test loss", row++);
  if (first) line(os, right, rows, score, "#188038", label.c_str(), 0);
  os << "</svg>\n";
  return os.str();
}

}  // namespace dagrad
