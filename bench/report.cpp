// The benchmark report: as text (one line per phase, then the per-op table when asked)
// or as one line of JSON.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/bench.h"
#include "ops/cpu/gemm_bf16.h"
#include "profiler/roofline.h"

namespace dagrad::bench {

namespace {

std::string phase_line(const char* name, const Throughput& t, int threads) {
  char line[400];
  std::snprintf(line, sizeof line,
                "%-9s batch %5lld: %8.1f images/s  %8.2f ms/step  %6.1f GFLOP/s  (%lld steps in %.1f s; "
                "CPU %.2f ms/step, %.1f images/s per %d busy cores)\n",
                name, static_cast<long long>(t.batch), t.images_per_s(), t.ms_per_step(), t.gflops(),
                static_cast<long long>(t.steps), t.wall_s, t.cpu_ms_per_step(), t.images_per_cpu_s(threads), threads);
  return line;
}

nlohmann::json phase_json(const Throughput& t, int threads) {
  return {{"batch", t.batch},
          {"steps", t.steps},
          {"wall_s", t.wall_s},
          {"cpu_s", t.cpu_s},
          {"images_per_s", t.images_per_s()},
          {"ms_per_step", t.ms_per_step()},
          {"cpu_ms_per_step", t.cpu_ms_per_step()},
          {"images_per_cpu_s_times_threads", t.images_per_cpu_s(threads)},
          {"gflops", t.gflops()},
          {"flops_per_step", t.flops_per_step}};
}

}  // namespace

std::string format_json(const BenchReport& r) {
  nlohmann::json j = {{"model", r.options.model},
                      {"threads", r.options.threads},
                      {"streams", r.options.streams},
                      {"precision", std::string(dtype_name(r.options.precision))},
                      {"train", phase_json(r.train, r.options.threads)},
                      {"arena_mib", r.arena_mib},
                      {"train_peak_rss_mib", r.train_peak_rss_mib},
                      {"peak_rss_mib", r.peak_rss_mib}};
  if (r.infer.steps > 0) j["infer"] = phase_json(r.infer, r.options.threads);
  return j.dump();
}

std::string format_report(const BenchReport& r) {
  const BenchOptions& o = r.options;
  std::string out;
  char line[400];
  const std::string precision =
      o.precision == DType::f32
          ? "float32"
          : str_cat("mixed precision (bfloat16 products on ", gemm_bf16::kernels_name(), ", float32 accumulation)");
  std::snprintf(line, sizeof line, "dagrad bench: %s, %d threads, %d stream(s), %s, %s\n", o.model.c_str(),
                o.threads, o.streams, precision.c_str(), r.optimizer.c_str());
  out += line;
  out += phase_line("training", r.train, o.threads);
  if (r.infer.steps > 0) out += phase_line("inference", r.infer, o.threads);
  std::snprintf(line, sizeof line,
                "cost model: %.1f MFLOP per training image%s; training arena %.1f MiB; peak RSS %.1f MiB after "
                "training, %.1f MiB at the end\n",
                r.train.flops_per_step / 1e6 / static_cast<double>(r.train.batch),
                r.infer.steps > 0
                    ? (", " + std::to_string(r.infer.flops_per_step / 1e6 / static_cast<double>(r.infer.batch))
                                  .substr(0, 5) +
                       " MFLOP per inference image")
                          .c_str()
                    : "",
                r.arena_mib, r.train_peak_rss_mib, r.peak_rss_mib);
  out += line;
  if (!r.ops.empty()) {
    double total = 0;
    for (const OpTime& t : r.ops) total += t.cpu_ms;
    out += "\nCPU time per training step by op (all threads; 10 steps averaged)\n";
    std::snprintf(line, sizeof line, "%-52s %5s %9s %6s %9s %7s\n", "op", "calls", "CPU ms", "share", "GFLOP/s",
                  "% roof");
    out += line;
    for (const OpTime& t : r.ops) {
      // CPU time over the threads: the op's time had it kept every core busy, so this is
      // the share of the roof of the cores it did use.
      const double core_s = t.cpu_ms * 1e-3 / o.threads;
      std::snprintf(line, sizeof line, "%-52s %5d %9.3f %5.1f%% %9.1f %6.1f%%\n", t.op.c_str(), t.calls, t.cpu_ms,
                    total > 0 ? 100 * t.cpu_ms / total : 0, t.cpu_ms > 0 ? t.flops / t.cpu_ms / 1e6 : 0,
                    100 * profiler::roof_fraction(t.flops, t.bytes, core_s, r.peak));
      out += line;
    }
    std::snprintf(line, sizeof line, "%-52s %5s %9.3f\n", "total", "", total);
    out += line;
    std::snprintf(line, sizeof line,
                  "%% roof: of min(%.1f GFLOP/s, intensity x %.1f GB/s), the peaks of %s, per CPU second the op "
                  "used\n",
                  r.peak.gflops, r.peak.gbps, r.peak.description.c_str());
    out += line;
  }
  return out;
}

}  // namespace dagrad::bench
