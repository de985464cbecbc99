// Scaling sweeps (`dagrad bench --sweep`): how an op's time grows with its size on each
// device, the experiment behind "why GPUs". Each point is a tiny graph of dagrad ops,
// compiled by scheduler::compile and run by the Executor on the device's backend:
//   matmul  an N x N float32 matmul, N = 32 ... 4,096 on the CPU (16,384 on a GPU);
//   square  x * x over 2^10 ... 2^28 floats;
//   conv    the MNIST CNN's second convolution, x [B,32,26,26] * weight [64,32,3,3], at
//           batch B = 1 ... 1,024.
// A point's time is one run of the plan, from submitting its steps to the end of the
// last one on the device (the copy of the output that Executor::run returns is not
// counted). Runs repeat after a warm-up until the median settles; the median and the
// minimum are kept. FLOPs and bytes come from the ops' cost model, as in the profiler.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "profiler/machine_peaks.h"
#include "runtime/device.h"

namespace dagrad::bench {

enum class SweepOp { matmul, square, conv };
std::string sweep_op_name(SweepOp op);  // "matmul", "square", "conv"
// "matmul", "square", "conv", or "all" (every op); ValueError otherwise.
std::vector<SweepOp> parse_sweep_ops(const std::string& text);
// What `size` counts: "N", "elements", "batch".
std::string sweep_size_meaning(SweepOp op);

struct SweepOptions {
  std::vector<SweepOp> ops = {SweepOp::matmul};
  std::vector<Device> devices = {Device::cpu()};
  int64_t max_size = 0;      // > 0: leave out larger sizes (N, elements or batch)
  double min_seconds = 0.1;  // timed runs per size last at least this long ...
  double max_seconds = 1.5;  // ... and stop after this long once min_runs are done
  int min_runs = 3;
  double stable_tolerance = 0.03;  // the median of the last half of the runs within 3% of all
  profiler::PeakCacheOptions peak_cache;
  std::ostream* progress = nullptr;  // one line per size (stderr in the command)
};

// The sizes a sweep of `op` visits on `device` (ascending), up to max_size when > 0.
std::vector<int64_t> sweep_sizes(SweepOp op, Device device, int64_t max_size = 0);

struct SweepPoint {
  Device device;
  SweepOp op = SweepOp::matmul;
  int64_t size = 0;
  double median_s = 0;
  double min_s = 0;
  int runs = 0;
  double flops = 0;  // per run, from the cost model
  double bytes = 0;  // read + written per run, from the cost model
  double gflops() const { return median_s > 0 ? flops / median_s / 1e9 : 0; }
  double gbps() const { return median_s > 0 ? bytes / median_s / 1e9 : 0; }
};

struct SweepDevice {
  Device device;
  std::string name;            // the backend's name: "cpu (2 threads)", "cuda:0 (NVIDIA ...)"
  profiler::MachinePeak peak;  // measured (or cached) ceilings
};

struct SweepResult {
  std::vector<SweepDevice> devices;
  std::vector<SweepPoint> points;  // by op, then device, then size
};

// Runs every op on every device. Throws DeviceError for a device that cannot be used.
SweepResult run_sweep(const SweepOptions& options);

// Per device and op: the plateau (median GFLOP/s and GB/s over the sizes from a quarter
// of the largest up; for the CPU matmul, N >= 1,024) against the device's peaks.
std::string sweep_summary(const SweepResult& result);

// sweep.csv: device,op,size,seconds,min_seconds,gflops,gbps,runs (seconds: the median;
// gflops and gbps at the median).
std::string sweep_csv(const SweepResult& result);

}  // namespace dagrad::bench
