#include "profiler/replay.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace dagrad::profiler {

namespace {

// A task whose remaining work is below this (seconds) has finished: float rounding.
constexpr double kDoneEps = 1e-12;

double rate(double capacity, size_t running) {
  return running == 0 ? 0.0 : std::min(1.0, capacity / static_cast<double>(running));
}

}  // namespace

ReplayResult replay_schedule(const std::vector<ScheduleTask>& tasks, double capacity) {
  if (!(capacity > 0))
    throw ValueError(str_cat("[replay] capacity ", capacity, " must be positive (1: kernels share one machine)"));
  const size_t n = tasks.size();
  std::vector<std::vector<int>> successors(n);
  std::vector<int> waiting(n, 0);  // dependencies not finished yet
  for (size_t i = 0; i < n; ++i)
    for (int d : tasks[i].deps) {
      if (d < 0 || static_cast<size_t>(d) >= i)
        throw ValueError(str_cat("[replay] task ", i, " depends on task ", d, ", which is not an earlier task"));
      successors[d].push_back(static_cast<int>(i));
      ++waiting[i];
    }
  ReplayResult r;
  r.start.assign(n, 0);
  r.finish.assign(n, 0);
  std::vector<double> left(n), due(n, 0);  // work left; when a pending task starts
  std::vector<int> pending, running;
  for (size_t i = 0; i < n; ++i) {
    left[i] = std::max(0.0, tasks[i].duration);
    if (waiting[i] == 0) pending.push_back(static_cast<int>(i)), due[i] = tasks[i].lag;
  }
  double t = 0;
  size_t done = 0;
  while (done < n) {
    for (auto it = pending.begin(); it != pending.end();) {
      if (due[*it] <= t) {
        r.start[*it] = due[*it];
        running.push_back(*it);
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    const double speed = rate(capacity, running.size());
    double next_finish = std::numeric_limits<double>::infinity(), next = next_finish;
    int first_done = -1;
    for (int i : running)
      if (t + left[i] / speed < next_finish) next_finish = t + left[i] / speed, first_done = i;
    for (int i : pending) next = std::min(next, due[i]);
    next = std::min(next, next_finish);
    DAGRAD_ASSERT(std::isfinite(next));  // dependencies point backwards: something can always run
    for (int i : running) left[i] -= (next - t) * speed;
    t = next;
    if (next == next_finish) left[first_done] = 0;  // whatever rounding left of it
    for (auto it = running.begin(); it != running.end();) {
      const int i = *it;
      if (left[i] > kDoneEps) {
        ++it;
        continue;
      }
      r.finish[i] = t;
      r.makespan = std::max(r.makespan, t);
      ++done;
      for (int s : successors[i]) {
        due[s] = std::max(due[s], t);
        if (--waiting[s] == 0) {
          due[s] += tasks[s].lag;
          pending.push_back(s);
        }
      }
      it = running.erase(it);
    }
  }
  return r;
}

std::vector<double> standalone_work(const std::vector<ScheduleTask>& measured, double capacity) {
  std::vector<double> work(measured.size());
  for (size_t i = 0; i < measured.size(); ++i) work[i] = measured[i].duration;
  if (std::isinf(capacity)) return work;
  // The measured times: the schedule's earliest times are the measured ones.
  const ScheduleAnalysis a = analyze_schedule(measured);
  std::vector<double> points;
  for (const TaskTimes& t : a.times) points.push_back(t.start), points.push_back(t.finish);
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  std::fill(work.begin(), work.end(), 0.0);
  std::vector<int> active;
  for (size_t k = 0; k + 1 < points.size(); ++k) {
    const double x0 = points[k], x1 = points[k + 1];
    active.clear();
    for (size_t i = 0; i < a.times.size(); ++i)
      if (a.times[i].start <= x0 && a.times[i].finish >= x1) active.push_back(static_cast<int>(i));
    for (int i : active) work[i] += (x1 - x0) * rate(capacity, active.size());
  }
  return work;
}

}  // namespace dagrad::profiler
