// dagrad profile: trains a model on random data for a few steps and reports, for the
// last ones, where the time went (trace, summary, critical path, plan views and an HTML
// report with a roofline), and what the step would take if ops ran faster (--what-if).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "apps/common.h"
#include "apps/train_args.h"
#include "comm/communicator.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "profiler/critical_path.h"
#include "profiler/machine_peaks.h"
#include "profiler/profiler.h"
#include "profiler/roofline.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "runtime/thread_pool.h"
#include "scheduler/session.h"

namespace dagrad::cli {

namespace {

struct ProfileArgs {
  TrainArgs train;  // --model, --batch, --seed, --device and the schedule options
  int steps = 10;
  int warmup = 3;
  std::string out = "profile";
  std::vector<std::string> what_if;  // OP_OR_KIND=FACTOR or streams=K
  bool remeasure_peaks = false;
};

// The other plans a --what-if streams=K predicts the run on: the same model compiled
// with K streams, by a Trainer of its own (a plan refers to its graph, so both live on).
struct OtherPlans {
  std::vector<std::unique_ptr<Trainer>> trainers;
  std::vector<std::pair<std::string, const scheduler::ExecutionPlan*>> plans;
};

OtherPlans compile_other_plans(const ProfileArgs& a, const TrainConfig& cfg, const std::vector<int>& streams,
                               const TensorMap& batch) {
  OtherPlans o;
  for (int k : streams) {
    TrainConfig other = cfg;
    other.compile.num_streams = k;
    o.trainers.push_back(std::make_unique<Trainer>(models::load_model(a.train.model), other, std::cout));
    o.plans.emplace_back(str_cat("streams=", k), &o.trainers.back()->train_session().executor_for(batch).plan());
  }
  return o;
}

// A training batch needs no data set: standard-normal images and uniform labels, under
// the trainer's input names.
TensorMap random_batch(int64_t batch, uint64_t seed, const SampleNames& names) {
  Tensor images = Tensor::empty(Shape{batch, 1, 28, 28});
  Generator gen(seed);
  fill_normal(images, gen, 0.0, 1.0);
  Tensor labels = Tensor::empty(Shape{batch}, DType::i64);
  for (int64_t i = 0; i < batch; ++i) labels.data<int64_t>()[i] = random_bits(seed + 1, static_cast<uint64_t>(i)) % 10;
  return {{names.input, images}, {names.target, labels}, {"lr", Tensor::full(Shape{}, 0.01)}};
}

// The roofline's ceilings at the profiled thread count: measured once (about a second),
// then read from the cache unless remeasured. A GPU whose peaks cannot be had only loses
// the roofline.
std::optional<profiler::MachinePeak> machine_peak(const Device& device, bool remeasure) {
  profiler::PeakCacheOptions cache;
  cache.remeasure = remeasure;
  if (device.is_cpu()) return profiler::cpu_peak(num_threads(), cache);
  try {
    return profiler::cuda_peak(device.index, cache);
  } catch (const Error& e) {
    std::cout << "note: no roofline: " << e.what() << "\n";
    return std::nullopt;
  }
}

void run_profile(const ProfileArgs& a) {
  if (comm::world().rank() == 0) prepare_output_directory(a.out, "--out");  // fail before profiling, not after
  TrainConfig cfg = train_config(a.train);
  cfg.progress = false;
  Trainer trainer(models::load_model(a.train.model), cfg, std::cout);
  scheduler::Session& session = trainer.train_session();
  TensorMap batch = random_batch(a.train.batch, a.train.seed, trainer.names());
  // What-ifs are checked against the plan before anything is profiled.
  profiler::ReportOptions report;
  std::vector<int> other_streams;
  for (const std::string& spec : a.what_if) {
    profiler::WhatIf w = profiler::parse_what_if(spec);
    if (w.target != "streams") {
      report.what_ifs.push_back(w);
      continue;
    }
    if (w.factor != std::floor(w.factor) || w.factor < 1 || w.factor > 16)
      throw ValueError(str_cat("--what-if ", spec, ": streams=K needs a stream count K from 1 to 16"));
    other_streams.push_back(static_cast<int>(w.factor));
  }
  profiler::check_what_ifs(session.executor_for(batch).plan(), report.what_ifs);
  OtherPlans others = compile_other_plans(a, cfg, other_streams, batch);
  report.other_plans = others.plans;
  // On the CPU every stream's kernels share the cores: a kernel takes the pool's threads,
  // so cores / threads kernels run at full speed at once. A GPU profile times each step
  // alone, and its streams' kernels can overlap on the device (an optimistic bound).
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  report.replay_capacity = cfg.device.is_cpu() ? std::max(1.0, cores / num_threads()) : profiler::kUnboundedCapacity;

  const ScheduleOptions& sched = a.train.sched;
  std::string title = str_cat(a.train.model, ", batch ", a.train.batch, ", ", sched.streams,
                              sched.streams == 1 ? " stream" : " streams", sched.no_fusion ? ", no fusion" : "",
                              sched.no_memory_plan ? ", no memory plan" : "", ", ",
                              cfg.device.is_cpu() ? str_cat(num_threads(), " threads") : cfg.device.to_string());
  std::cout << "profiling " << title << ": " << a.warmup << " warm-up + " << a.steps
            << " profiled training steps on random data\n";
  for (int i = 0; i < a.warmup; ++i) session.run(batch);
  profiler::Profiler prof(session, batch);
  for (int i = 0; i < a.steps; ++i) prof.run([&] { session.run(batch); });

  if (comm::world().rank() != 0) return;  // under mpirun every rank ran the steps; rank 0 reports
  report.peak = machine_peak(cfg.device, a.remeasure_peaks);
  prof.write_report(a.out, title, report);
  const profiler::Profile p = prof.profile();
  const profiler::Summary summary = profiler::summarize(p);
  const std::string what_ifs = profiler::what_if_text(profiler::what_if_results(p, report));
  std::cout << "plan: " << prof.plan().summary() << "\n\n"
            << summary.to_table(report.peak ? &*report.peak : nullptr)
            << (report.peak ? profiler::roofline_text(summary, *report.peak) : "") << "\n"
            << prof.memory_timeline().to_text(prof.plan()) << "\n"
            << profiler::critical_path_text(p, /*step_table=*/false) << (what_ifs.empty() ? "" : "\n") << what_ifs
            << "\n";
  std::filesystem::path dir(a.out);
  std::cout << "wrote " << (dir / "trace.json").string() << " (open in ui.perfetto.dev or chrome://tracing), "
            << (dir / "summary.txt").string() << ", " << (dir / "plan.txt").string() << ", "
            << (dir / "plan.dot").string() << ", " << (dir / "plan.json").string() << ", "
            << (dir / "report.html").string() << "\n";
}

}  // namespace

Command add_profile_command(CLI::App& app) {
  auto a = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand("profile",
                                     "profile training steps on random data: trace, per-op summary, "
                                     "plan views and an HTML report");
  cmd->add_option("--model", a->train.model, model_help())
      ->check(model_name)
      ->capture_default_str();
  cmd->add_option("--batch", a->train.batch, "batch size")->check(positive_number)->capture_default_str();
  cmd->add_option("--steps", a->steps, "training steps to profile (after the warm-up)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "training steps to run first, unprofiled (compilation, caches)")
      ->check(non_negative_number)
      ->capture_default_str();
  a->train.sched.add_to(*cmd);
  cmd->add_option("--out", a->out, "directory for trace.json, summary.txt, plan.txt/.dot/.json and report.html")
      ->capture_default_str();
  cmd->add_option("--device", a->train.device,
                  "cpu or cuda[:N]; on a GPU each step is timed to its completion on the device, so "
                  "streams do not overlap while profiling")
      ->capture_default_str();
  cmd->add_option("--seed", a->train.seed, "seed for initialisation, the random batch and dropout")->capture_default_str();
  cmd->add_flag("--remeasure-peaks", a->remeasure_peaks,
                "measure the roofline's peak GFLOP/s and GB/s again and cache them, instead of reading the cache "
                "($XDG_CACHE_HOME/dagrad or ~/.cache/dagrad/machine_peaks.json): a measurement taken while another "
                "process shared the cores reads low");
  cmd->add_option("--what-if", a->what_if,
                  "OP_OR_KIND=FACTOR: predict the step if the steps of op OP (conv2d, or a step label such as "
                  "fused[add+relu]) or kind KIND (conv, gemm, pool, elementwise, fused, reduce, loss, optimizer, "
                  "other) ran FACTOR times as fast, by replaying the profiled run's dependency graph; streams=K "
                  "predicts the step on the same plan with K streams. Repeatable; several are also applied together")
      ->allow_extra_args(false)
      ->check([](const std::string& spec) {
        try {
          profiler::parse_what_if(spec);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      });
  return {cmd, [a] { run_profile(*a); }};
}

}  // namespace dagrad::cli
