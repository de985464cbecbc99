// A one-line progress bar with images/s and ETA. On a terminal it redraws in place;
// otherwise (logs, CI) it prints a line at every quarter so output stays readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace dagrad {

class Progress {
 public:
  Progress(std::ostream& out, std::string label, int64_t total_steps, bool enabled);
  // After `done` of the total steps, having processed `items` images.
  void update(int64_t done, int64_t items, const std::string& extra = {});
  void finish(const std::string& extra = {});

 private:
  void draw(int64_t done, int64_t items, const std::string& extra, bool final);

  std::ostream& out_;
  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_quarter_ = 0, done_ = 0, items_ = 0;
};

}  // namespace dagrad
