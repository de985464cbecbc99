#include "frontend/progress.h"

#include <unistd.h>

#include <cstdio>
#include <ostream>

namespace dagrad {

Progress::Progress(std::ostream& out, std::string label, int64_t total_steps, bool enabled)
    : out_(out),
      label_(std::move(label)),
      total_(total_steps),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t done, int64_t items, const std::string& extra) {
  done_ = done;
  items_ = items;
  if (!enabled_ || total_ <= 0) return;
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(200) && done < total_) return;
    last_draw_ = now;
    draw(done, items, extra, false);
  } else if (int64_t quarter = done * 4 / total_; quarter > last_quarter_ && done < total_) {
    last_quarter_ = quarter;
    draw(done, items, extra, false);
  }
}

void Progress::finish(const std::string& extra) {
  if (enabled_) draw(done_, items_, extra, true);
}

void Progress::draw(int64_t done, int64_t items, const std::string& extra, bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(items) / secs : 0;
  double eta = done > 0 ? secs * static_cast<double>(total_ - done) / static_cast<double>(done) : 0;
  constexpr int kWidth = 24;
  int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  char line[256];
  std::snprintf(line, sizeof line, "%s [%s] %lld/%lld  %.0f img/s  %s %.0fs  %s", label_.c_str(), bar.c_str(),
                static_cast<long long>(done), static_cast<long long>(total_), rate, final ? "took" : "ETA",
                final ? secs : eta, extra.c_str());
  if (tty_) out_ << '\r' << line << "\033[K" << (final ? "\n" : "") << std::flush;
  else out_ << line << '\n' << std::flush;
}

}  // namespace dagrad
