// Speed and memory benchmarks of the CPU backend (the library behind `dagrad bench`).
// Training runs the compiled training step of a model zoo network on a fixed random batch
// for a fixed time after a warm-up; inference runs the forward-only evaluation graph.
// Both report wall-clock and CPU-time rates, since the machines this runs on are often
// shared: CPU seconds per step change little when other processes compete for the cores,
// wall seconds do.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "profiler/machine_peaks.h"

namespace dagrad::bench {

struct BenchOptions {
  std::string model = "mnist-cnn";
  int64_t batch = 64;
  int threads = 2;
  double seconds = 20;     // timed training (and inference) phase
  int warmup_steps = 5;    // untimed steps first: compilation, first touch, caches
  bool infer = false;      // also measure inference
  int64_t infer_batch = 1000;
  int streams = 1;
  size_t memory_budget = 0;  // bytes; 0: none (CompileOptions::memory_budget)
  bool op_profile = false;  // per-op CPU time of one training step (see OpTime)
  uint64_t seed = 1;
  DType precision = DType::f32;  // bfloat16: mixed precision (CompileOptions::precision)
};

struct Throughput {
  int64_t steps = 0;
  int64_t batch = 0;
  double wall_s = 0;  // timed phase
  double cpu_s = 0;   // process CPU time in the timed phase, all threads
  double flops_per_step = 0;  // from the cost model: OpDef::cost_of over the plan's nodes

  double images_per_s() const { return wall_s > 0 ? static_cast<double>(steps * batch) / wall_s : 0; }
  double ms_per_step() const { return steps > 0 ? 1e3 * wall_s / static_cast<double>(steps) : 0; }
  double cpu_ms_per_step() const { return steps > 0 ? 1e3 * cpu_s / static_cast<double>(steps) : 0; }
  double gflops() const { return wall_s > 0 ? flops_per_step * static_cast<double>(steps) / wall_s / 1e9 : 0; }
  // The rate if every thread had had a core of its own: images per CPU second, times the
  // thread count. Close to images_per_s on an idle machine.
  double images_per_cpu_s(int threads) const {
    return cpu_s > 0 ? static_cast<double>(steps * batch) / cpu_s * threads : 0;
  }
};

// One op (or fused group) kind in a training step: CPU time summed over its steps.
struct OpTime {
  std::string op;
  int calls = 0;
  double cpu_ms = 0;
  double flops = 0;
  double bytes = 0;  // moved, from the cost model (as the profiler counts them)
};

struct BenchReport {
  BenchOptions options;
  std::string optimizer;  // the model recipe's, as `dagrad train` uses it: "SGD momentum 0.9", "AdamW"
  Throughput train;
  Throughput infer;
  std::vector<OpTime> ops;  // with options.op_profile, sorted by time
  // With options.op_profile: the machine's peaks at options.threads (cached), the roof
  // of the "% roof" column.
  profiler::MachinePeak peak;
  double arena_mib = 0;           // the training plan's planned arena
  double train_peak_rss_mib = 0;  // of the whole process, after training
  double peak_rss_mib = 0;        // of the whole process, at the end (inference included)
};

// Runs the benchmark; sets the thread count of dagrad's pool to options.threads.
BenchReport run_bench(const BenchOptions& options);
std::string format_report(const BenchReport& r);
std::string format_json(const BenchReport& r);  // one line, for scripts (bench/pytorch_compare.py)

// Single-thread GEMM throughput on the shapes of a model's layers (mnist-cnn's, or
// mnist-vit's; the other models use mnist-cnn's): dagrad's engine (the
// GEMM in use for float32), OpenBLAS as configured and, when the build found it,
// oneDNN's dnnl_sgemm, the practical peak of the machine.
struct GemmRate {
  std::string name;
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  double engine_gflops = 0, openblas_gflops = 0, onednn_gflops = 0;  // 0: not measured
};
std::vector<GemmRate> gemm_rates(const std::string& model = "mnist-cnn", double seconds_per_shape = 0.2);
std::string format_gemm_rates(const std::vector<GemmRate>& rates);
bool have_onednn();

// The median of v (the mean of the middle two for an even count); bench/sweep.cpp.
double median_of(std::vector<double> v);

// The model's convolution passes (mnist-cnn's and lenet5's; none for the others) at a batch,
// on the thread pool, on each path: float32, and bfloat16 as dispatched, on vdpbf16ps forced
// (CPUs with AVX512_BF16) and widened to float32 (bench/conv_bench.cpp).
struct ConvRate {
  std::string layer, pass, path;
  double ms = 0, gmacs = 0;  // median wall time; direct multiply-adds per second
};
std::vector<ConvRate> conv_rates(const std::string& model, int64_t batch, int threads, double seconds_per_case = 0.3);
std::string format_conv_rates(const std::string& model, int64_t batch, const std::vector<ConvRate>& rates);

// Attention's memory and time against the sequence length (bench/attention_bench.cpp):
// a compiled training step of the fused op and of its composed reference per length.
struct AttentionBenchOptions {
  std::vector<int64_t> lengths = {64, 256, 1024};
  int64_t batch = 1, heads = 4, dim = 64;
  int threads = 2;
  double seconds = 2;  // timed runs per (length, form)
  uint64_t seed = 1;
};
struct AttentionRate {
  int64_t length = 0;
  bool fused = true;
  double arena_mib = 0;   // the plan's peak memory (activations, gradients, temporaries)
  double scores_mib = 0;  // one [N,H,L,L] float32 tensor, for scale
  int64_t runs = 0;
  double ms_per_run = 0, cpu_ms_per_run = 0;
};
std::vector<AttentionRate> attention_rates(const AttentionBenchOptions& options);
std::string format_attention_rates(const AttentionBenchOptions& options, const std::vector<AttentionRate>& rates);

// Process statistics.
double process_cpu_seconds();
double peak_rss_mib();

}  // namespace dagrad::bench
