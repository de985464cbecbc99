// dagrad bench: training and inference throughput on the CPU, peak memory, effective
// GFLOP/s from the cost model, and (with --gemm) the machine's practical GEMM peak.
#include <iostream>

#include "apps/common.h"
#include "bench/bench.h"
#include "models/models.h"

namespace dagrad::cli {

namespace {

struct BenchArgs {
  bench::BenchOptions opt;
  bool gemm = false;
  bool json = false;
  std::string precision = "f32";
};

void run_bench_command(BenchArgs a) {
  a.opt.precision = parse_dtype(a.precision);
  if (a.gemm) std::cout << bench::format_gemm_rates(bench::gemm_rates()) << "\n" << std::flush;
  bench::BenchReport r = bench::run_bench(a.opt);
  std::cout << (a.json ? bench::format_json(r) + "\n" : bench::format_report(r)) << std::flush;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "measure training and inference speed (images/s, ms per step, GFLOP/s) and peak memory on the CPU");
  cmd->add_option("--model", a->opt.model, "mnist-cnn, lenet5 or mlp")
      ->check(CLI::IsMember(models::model_names()))
      ->capture_default_str();
  cmd->add_option("--batch", a->opt.batch, "training batch size")->check(positive_number)->capture_default_str();
  cmd->add_option("--threads", a->opt.threads, "threads of dagrad's pool")
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
  cmd->add_flag("--ops", a->opt.op_profile, "also print CPU time per op of a training step");
  cmd->add_flag("--gemm", a->gemm,
                "first measure single-thread SGEMM on the model's shapes: dagrad, OpenBLAS and oneDNN when built "
                "with it (the practical peak)");
  cmd->add_flag("--json", a->json, "print the result as one line of JSON");
  cmd->add_option("--seed", a->opt.seed, "seed for initialisation, the random batch and dropout")
      ->capture_default_str();
  return {cmd, [a] { run_bench_command(*a); }};
}

}  // namespace dagrad::cli
