// dagrad bench: training and inference throughput on the CPU, peak memory, effective
// GFLOP/s from the cost model, and (with --gemm) the machine's practical GEMM peak; with
// --sweep, an op's time against its size on the CPU and GPU (bench/sweep.h); with --attention,
// fused attention's planned memory and time against its length (bench/bench.h).
#include <chrono>
#include <filesystem>
#include <iostream>

#include "apps/common.h"
#include "bench/bench.h"
#include "bench/sweep.h"
#include "bench/sweep_chart.h"
#include "frontend/metrics.h"
#include "models/models.h"
#include "runtime/backend.h"
#include "runtime/thread_pool.h"

namespace dagrad::cli {

namespace {

struct SweepArgs {
  std::string ops;  // empty: no sweep
  std::string device = "cpu";
  std::string out = "sweep";
  int64_t max_size = 0;
  bool remeasure_peaks = false;
};

struct BenchArgs {
  bench::BenchOptions opt;
  bool gemm = false;
  bool conv = false;
  bool json = false;
  bool attention = false;
  std::vector<int64_t> lengths = {64, 256, 1024};
  std::string precision = "f32";
  double memory_budget_mib = 0;
  SweepArgs sweep;
  CLI::Option* threads = nullptr;
};

// --device cpu|cuda[:N]|all: the devices to sweep. "all" is the CPU and, when one
// answers, the first GPU; a named GPU that cannot be used is a one-line error.
std::vector<Device> sweep_devices(const std::string& text) {
  if (text != "all") return {check_device(text)};
  if (cuda_available()) return {Device::cpu(), Device::cuda(0)};
  std::cout << "note: no GPU found (" << cuda_unavailable_reason() << "); sweeping the CPU only\n";
  return {Device::cpu()};
}

void run_sweep_command(const BenchArgs& a) {
  const SweepArgs& s = a.sweep;
  bench::SweepOptions o;
  o.ops = bench::parse_sweep_ops(s.ops);
  if (a.threads->count() > 0) set_num_threads(a.opt.threads);
  o.devices = sweep_devices(s.device);
  o.max_size = s.max_size;
  o.peak_cache.remeasure = s.remeasure_peaks;
  o.progress = &std::cerr;
  const auto t0 = std::chrono::steady_clock::now();
  bench::SweepResult r = bench::run_sweep(o);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::filesystem::path dir(s.out);
  std::filesystem::create_directories(dir);
  write_text_atomically(dir / "sweep.csv", bench::sweep_csv(r));
  write_text_atomically(dir / "sweep.svg", bench::sweep_svg(r, "dagrad bench --sweep " + s.ops + ": time and GFLOP/s "
                                                                "against size (log-log)"));
  std::cout << bench::sweep_summary(r) << "wrote " << (dir / "sweep.csv").string() << " and "
            << (dir / "sweep.svg").string() << " (" << r.points.size() << " points in "
            << static_cast<int>(took + 0.5) << " s)\n";
}

void run_bench_command(BenchArgs a) {
  if (!a.sweep.ops.empty()) return run_sweep_command(a);
  if (a.attention) {
    bench::AttentionBenchOptions o;
    o.lengths = a.lengths;
    o.threads = a.opt.threads;
    o.seed = a.opt.seed;
    std::cout << bench::format_attention_rates(o, bench::attention_rates(o)) << std::flush;
    return;
  }
  a.opt.precision = parse_dtype(a.precision);
  if (a.gemm) std::cout << bench::format_gemm_rates(bench::gemm_rates(a.opt.model)) << "\n" << std::flush;
  if (a.conv)
    std::cout << bench::format_conv_rates(a.opt.model, a.opt.batch,
                                          bench::conv_rates(a.opt.model, a.opt.batch, a.opt.threads))
              << "\n"
              << std::flush;
  a.opt.memory_budget = mib_to_bytes(a.memory_budget_mib);
  bench::BenchReport r = bench::run_bench(a.opt);
  std::cout << (a.json ? bench::format_json(r) + "\n" : bench::format_report(r)) << std::flush;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "measure training and inference speed (images/s, ms per step, GFLOP/s) and peak memory on the CPU; "
               "with --sweep, how an op's time grows with its size on the CPU and GPU; with --attention, fused "
               "attention against its composed reference");
  cmd->add_option("--model", a->opt.model, model_help())
      ->check(model_name)
      ->capture_default_str();
  cmd->add_option("--batch", a->opt.batch, "training batch size")->check(positive_number)->capture_default_str();
  a->threads = cmd->add_option("--threads", a->opt.threads,
                                "threads of dagrad's pool (with --sweep: default the pool's, i.e. dagrad --threads "
                                "or all hardware threads)")
                   ->check(positive_number)
                   ->capture_default_str();
  cmd->add_option("--seconds", a->opt.seconds, "timed training seconds (inference runs half as long)")
      ->check(positive_number)
      ->capture_default_str();
  cmd->add_option("--warmup", a->opt.warmup_steps, "untimed training steps first")
      ->check(non_negative_number)
      ->capture_default_str();
  cmd->add_option("--infer-batch", a->opt.infer_batch, "inference batch size")
      ->check(positive_number)
      ->capture_default_str();
  cmd->add_flag("--infer", a->opt.infer, "also measure inference (forward only, evaluation mode)");
  cmd->add_option("--streams", a->opt.streams, "streams of the training plan")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  add_precision_option(*cmd, a->precision);
  cmd->add_option("--memory-budget", a->memory_budget_mib,
                  "MiB the training plan's peak may take (recomputation; see dagrad plan); 0: no limit")
      ->check(non_negative_number)
      ->capture_default_str();
  cmd->add_flag("--ops", a->opt.op_profile, "also print CPU time per op of a training step");
  cmd->add_flag("--gemm", a->gemm,
                "first measure single-thread SGEMM on the model's shapes: dagrad, OpenBLAS and oneDNN when built "
                "with it (the practical peak)");
  cmd->add_flag("--conv", a->conv,
                "first time each pass of the model's convolutions at the training batch on every path this CPU "
                "has: float32, and bfloat16 as chosen, on vdpbf16ps (forced) and widened to float32");
  cmd->add_flag("--json", a->json, "print the result as one line of JSON");
  cmd->add_flag("--attention", a->attention,
                "instead of a model: attention's planned memory and time per training step (q, k, v [1,4,L,64]) "
                "for the fused op and its composed reference, at each of --lengths");
  cmd->add_option("--lengths", a->lengths, "sequence lengths of --attention")
      ->check(positive_number)
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "seed for initialisation, the random batch and dropout")
      ->capture_default_str();

  // The scaling sweep: a mode of its own, so the training options do not mix with it.
  CLI::Option* sweep =
      cmd->add_option("--sweep", a->sweep.ops,
                      "instead of training, time one op against its size through dagrad's ops and executor and write "
                      "sweep.csv and sweep.svg: matmul (N x N float32, N = 32..4096 on the CPU, ..16384 on a GPU), "
                      "square (x * x over 2^10..2^28 floats), conv (the MNIST CNN's conv2, batch 1..1024) or all. "
                      "sweep.csv: device,op,size,seconds (median),min_seconds,gflops,gbps,runs; sweep.svg: time and "
                      "GFLOP/s against size, log-log, with each device's measured peak. Progress goes to stderr, one "
                      "line per size")
          ->check(CLI::IsMember({"matmul", "square", "conv", "all"}));
  cmd->add_option("--device", a->sweep.device,
                  "with --sweep: cpu, cuda[:N], or all (the CPU and, when present, the first GPU, on one chart)")
      ->needs(sweep)
      ->capture_default_str();
  cmd->add_option("--out", a->sweep.out, "with --sweep: directory for sweep.csv and sweep.svg")
      ->needs(sweep)
      ->capture_default_str();
  cmd->add_option("--max-size", a->sweep.max_size,
                  "with --sweep: leave out sizes above this one (N for matmul, elements for square, batch for conv)")
      ->needs(sweep)
      ->check(positive_number);
  cmd->add_flag("--remeasure-peaks", a->sweep.remeasure_peaks,
                "with --sweep: measure the device's peak GFLOP/s and GB/s again instead of reading them from the "
                "cache ($XDG_CACHE_HOME/dagrad or ~/.cache/dagrad/machine_peaks.json)")
      ->needs(sweep);
  for (const char* name :
       {"--model", "--batch", "--seconds", "--warmup", "--infer-batch", "--infer", "--streams", "--precision",
        "--memory-budget", "--ops", "--gemm", "--conv", "--json", "--seed", "--attention", "--lengths"})
    sweep->excludes(cmd->get_option(name));
  return {cmd, [a] { run_bench_command(*a); }};
}

}  // namespace dagrad::cli
