// The scaling sweeps of `dagrad bench --sweep` (see sweep.h).
#include "bench/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include "bench/bench.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::bench {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// One sweep point: its graph (which the plan refers to), output and device inputs.
struct PointGraph {
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();
  Value out;
  TensorMap inputs;
};

// Constant inputs: the time of these kernels does not depend on the values (no
// denormals, no NaN), and filling 2^28 random numbers would cost more than timing them.
Tensor input_on(Device device, const Shape& shape, double value) {
  Tensor t = Tensor::full(shape, value);
  return device.is_cpu() ? t : t.to(device);
}

PointGraph build_point(SweepOp op, int64_t size, Device device) {
  PointGraph p;
  Graph& g = *p.graph;
  switch (op) {
    case SweepOp::matmul: {
      const Shape s{size, size};
      p.out = matmul(g.input("a", s), g.input("b", s));
      p.inputs = {{"a", input_on(device, s, 0.5)}, {"b", input_on(device, s, 0.25)}};
      break;
    }
    case SweepOp::square: {
      const Shape s{size};
      Value x = g.input("x", s);
      p.out = x * x;
      p.inputs = {{"x", input_on(device, s, 1.5)}};
      break;
    }
    case SweepOp::conv: {
      const Shape xs{size, 32, 26, 26}, ws{64, 32, 3, 3};  // the MNIST CNN's conv2
      p.out = conv2d(g.input("x", xs), g.input("weight", ws));
      p.inputs = {{"x", input_on(device, xs, 0.5)}, {"weight", input_on(device, ws, 0.01)}};
      break;
    }
  }
  return p;
}

// The cost model's FLOPs and bytes of the plan's compute nodes.
std::pair<double, double> plan_cost(const scheduler::ExecutionPlan& plan) {
  double flops = 0, bytes = 0;
  for (int id : plan.nodes) {
    const Node& n = plan.graph->node(id);
    if (n.op->kind == OpKind::source) continue;
    const Cost c = n.op->cost_of(n);
    flops += c.flops;
    bytes += c.bytes_read + c.bytes_written;
  }
  return {flops, bytes};
}

// One run, timed from submitting the plan's steps until every stream has finished them
// (on a GPU: until the device is done). The output copy run() makes happens afterwards.
double timed_run(scheduler::Executor& ex, const TensorMap& inputs, std::vector<Tensor>& out) {
  const double t0 = now_s();
  ex.begin_run(inputs, ex.next_step());
  ex.submit_steps();
  try {
    for (int s = 0; s < ex.num_streams(); ++s) ex.stream(s).synchronize();
  } catch (...) {
    ex.end_run(out);  // stops every stream and reports the run's first error
    throw;
  }
  const double t = now_s() - t0;
  ex.end_run(out);
  return t;
}

// Settled: the median of the later half of the runs agrees with the median of all.
bool settled(const std::vector<double>& times, double tolerance) {
  const double all = median_of(times);
  const double late = median_of(std::vector<double>(times.begin() + static_cast<long>(times.size() / 2), times.end()));
  return std::abs(late - all) <= tolerance * all;
}

SweepPoint measure_point(SweepOp op, int64_t size, Device device, Backend& backend, const SweepOptions& o) {
  PointGraph pg = build_point(op, size, device);
  scheduler::Executor ex(scheduler::compile(*pg.graph, std::vector<Value>{pg.out}), backend);
  SweepPoint pt;
  pt.device = device;
  pt.op = op;
  pt.size = size;
  std::tie(pt.flops, pt.bytes) = plan_cost(ex.plan());
  std::vector<Tensor> out;
  // Warm-up: the first run touches the arena (and on a GPU loads the kernels); small
  // problems get a few more, until the caches and the clock have settled.
  double warm = 0;
  for (int i = 0; i < 100 && (i < 1 || warm < 0.25 * o.min_seconds); ++i) warm += timed_run(ex, pg.inputs, out);
  std::vector<double> times;
  double spent = 0;
  size_t next_check = 0;  // checking every 25% more runs keeps the medians' cost linear
  while (true) {
    const double t = timed_run(ex, pg.inputs, out);
    times.push_back(t);
    spent += t;
    if (static_cast<int>(times.size()) < o.min_runs) continue;
    if (spent >= o.max_seconds || times.size() >= 100000) break;
    if (spent >= o.min_seconds && times.size() >= next_check) {
      if (settled(times, o.stable_tolerance)) break;
      next_check = times.size() + times.size() / 4 + 1;
    }
  }
  pt.median_s = median_of(times);
  pt.min_s = *std::min_element(times.begin(), times.end());
  pt.runs = static_cast<int>(times.size());
  return pt;
}

std::string seconds_text(double s) {
  char buf[32];
  if (s < 1e-3)
    std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  else if (s < 1)
    std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

}  // namespace

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string sweep_op_name(SweepOp op) {
  switch (op) {
    case SweepOp::matmul: return "matmul";
    case SweepOp::square: return "square";
    case SweepOp::conv: return "conv";
  }
  return "?";
}

std::string sweep_size_meaning(SweepOp op) {
  switch (op) {
    case SweepOp::matmul: return "N";
    case SweepOp::square: return "elements";
    case SweepOp::conv: return "batch";
  }
  return "?";
}

std::vector<SweepOp> parse_sweep_ops(const std::string& text) {
  if (text == "all") return {SweepOp::matmul, SweepOp::square, SweepOp::conv};
  for (SweepOp op : {SweepOp::matmul, SweepOp::square, SweepOp::conv})
    if (text == sweep_op_name(op)) return {op};
  throw ValueError(str_cat("[bench] unknown sweep '", text, "': use matmul, square, conv or all"));
}

std::vector<int64_t> sweep_sizes(SweepOp op, Device device, int64_t max_size) {
  std::vector<int64_t> sizes;
  switch (op) {
    case SweepOp::matmul: {
      // Powers of two and the halfway points (48, 96, ...): a smoother curve.
      const int64_t largest = device.is_cpu() ? 4096 : 16384;
      for (int64_t n = 32; n <= largest; n *= 2) {
        sizes.push_back(n);
        if (n * 3 / 2 <= largest) sizes.push_back(n * 3 / 2);
      }
      break;
    }
    case SweepOp::square:
      for (int k = 10; k <= 28; ++k) sizes.push_back(int64_t{1} << k);
      break;
    case SweepOp::conv:
      for (int64_t b = 1; b <= 1024; b *= 2) sizes.push_back(b);
      break;
  }
  if (max_size > 0) std::erase_if(sizes, [&](int64_t s) { return s > max_size; });
  return sizes;
}

SweepResult run_sweep(const SweepOptions& o) {
  if (o.ops.empty() || o.devices.empty()) throw ValueError("[bench] a sweep needs at least one op and one device");
  if (o.min_runs < 1 || !(o.min_seconds >= 0) || !(o.max_seconds >= o.min_seconds))
    throw ValueError("[bench] sweep: min_runs >= 1 and 0 <= min_seconds <= max_seconds are needed");
  // Sizes first: a --max-size that leaves nothing fails before any measurement.
  for (SweepOp op : o.ops)
    for (Device d : o.devices)
      if (sweep_sizes(op, d, o.max_size).empty())
        throw ValueError(str_cat("[bench] --max-size ", o.max_size, " leaves no size to sweep for ", sweep_op_name(op),
                                 " (the smallest is ", sweep_sizes(op, d).front(), ")"));
  SweepResult r;
  for (Device d : o.devices) {
    Backend& backend = backend_for(d);  // DeviceError with the reason when unusable
    SweepDevice sd{d, backend.name(), {}};
    sd.peak = d.is_cpu() ? profiler::cpu_peak(num_threads(), o.peak_cache) : profiler::cuda_peak(d.index, o.peak_cache);
    if (o.progress) {
      char line[300];
      std::snprintf(line, sizeof line, "peak of %s: %.1f GFLOP/s (FMA), %.1f GB/s (%s)\n", sd.name.c_str(),
                    sd.peak.gflops, sd.peak.gbps, sd.peak.from_cache ? "cached" : "measured now");
      *o.progress << line << std::flush;
    }
    r.devices.push_back(std::move(sd));
  }
  for (SweepOp op : o.ops) {
    for (const SweepDevice& sd : r.devices) {
      for (int64_t size : sweep_sizes(op, sd.device, o.max_size)) {
        SweepPoint pt = measure_point(op, size, sd.device, backend_for(sd.device), o);
        if (o.progress) {
          char line[300];
          std::snprintf(line, sizeof line, "%s %s %s=%lld: %s median (min %s, %d runs), %.2f GFLOP/s, %.2f GB/s\n",
                        sd.device.to_string().c_str(), sweep_op_name(op).c_str(), sweep_size_meaning(op).c_str(),
                        static_cast<long long>(size), seconds_text(pt.median_s).c_str(), seconds_text(pt.min_s).c_str(),
                        pt.runs, pt.gflops(), pt.gbps());
          *o.progress << line << std::flush;
        }
        r.points.push_back(pt);
      }
    }
  }
  return r;
}

std::string sweep_summary(const SweepResult& r) {
  std::string out;
  for (SweepOp op : {SweepOp::matmul, SweepOp::square, SweepOp::conv}) {
    for (const SweepDevice& sd : r.devices) {
      int64_t largest = 0;
      for (const SweepPoint& p : r.points)
        if (p.op == op && p.device == sd.device) largest = std::max(largest, p.size);
      if (largest == 0) continue;
      std::vector<double> gflops, gbps;
      int64_t from = largest;
      for (const SweepPoint& p : r.points)
        if (p.op == op && p.device == sd.device && p.size * 4 >= largest) {
          gflops.push_back(p.gflops()), gbps.push_back(p.gbps());
          from = std::min(from, p.size);
        }
      const double g = median_of(gflops), b = median_of(gbps);
      char line[400];
      std::snprintf(line, sizeof line,
                    "%s %s plateau (%s >= %lld): %.1f GFLOP/s = %.0f%% of the %.0f GFLOP/s peak; %.1f GB/s = %.0f%% "
                    "of the %.1f GB/s peak\n",
                    sd.device.to_string().c_str(), sweep_op_name(op).c_str(), sweep_size_meaning(op).c_str(),
                    static_cast<long long>(from), g, sd.peak.gflops > 0 ? 100 * g / sd.peak.gflops : 0, sd.peak.gflops,
                    b, sd.peak.gbps > 0 ? 100 * b / sd.peak.gbps : 0, sd.peak.gbps);
      out += line;
    }
  }
  return out;
}

std::string sweep_csv(const SweepResult& r) {
  std::ostringstream os;
  os << "device,op,size,seconds,min_seconds,gflops,gbps,runs\n";
  char line[256];
  for (const SweepPoint& p : r.points) {
    std::snprintf(line, sizeof line, "%s,%s,%lld,%.9g,%.9g,%.6g,%.6g,%d\n", p.device.to_string().c_str(),
                  sweep_op_name(p.op).c_str(), static_cast<long long>(p.size), p.median_s, p.min_s, p.gflops(),
                  p.gbps(), p.runs);
    os << line;
  }
  return os.str();
}

}  // namespace dagrad::bench
