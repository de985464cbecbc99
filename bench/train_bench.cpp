// Training and inference throughput of a model zoo network on the CPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include "bench/bench.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/op_def.h"
#include "profiler/step_info.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "runtime/thread_pool.h"
#include "scheduler/mixed_precision.h"
#include "scheduler/session.h"

namespace dagrad::bench {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Standard-normal images and uniform labels: throughput does not depend on the data.
TensorMap random_batch(int64_t batch, uint64_t seed, bool with_labels, double lr = 0.01) {
  Tensor images = Tensor::empty(Shape{batch, 1, 28, 28});
  Generator gen(seed);
  fill_normal(images, gen, 0.0, 1.0);
  TensorMap in{{"images", images}};
  if (with_labels) {
    Tensor labels = Tensor::empty(Shape{batch}, DType::i64);
    for (int64_t i = 0; i < batch; ++i)
      labels.data<int64_t>()[i] = static_cast<int64_t>(random_bits(seed + 1, static_cast<uint64_t>(i)) % 10);
    in["labels"] = labels;
    in["lr"] = Tensor::full(Shape{}, lr);
  }
  return in;
}

double plan_flops(const scheduler::ExecutionPlan& plan) {
  double flops = 0;
  for (int id : plan.nodes) {
    const Node& n = plan.graph->node(id);
    flops += n.op->cost_of(n).flops;
  }
  return flops;
}

// Runs `session` on `batch` for `seconds` (at least 3 runs) after `warmup` runs.
Throughput measure(scheduler::Session& session, const TensorMap& batch, int64_t batch_size, int warmup,
                   double seconds) {
  std::vector<Tensor> out;  // reused: the timed steps allocate nothing
  for (int i = 0; i < warmup; ++i) session.run(batch, out);
  Throughput t;
  t.batch = batch_size;
  t.flops_per_step = plan_flops(session.executor_for(batch).plan());
  const double wall0 = now_s(), cpu0 = process_cpu_seconds();
  do {
    session.run(batch, out);
    ++t.steps;
  } while (t.steps < 3 || now_s() - wall0 < seconds);
  t.wall_s = now_s() - wall0;
  t.cpu_s = process_cpu_seconds() - cpu0;
  return t;
}

// CPU time per op kind over `runs` training steps: the process CPU time between
// consecutive step completions on one stream is the time of the step that just finished
// (all pool threads work on it; the pool blocks, never spins, when idle).
std::vector<OpTime> op_profile(scheduler::Session& session, const TensorMap& batch, int runs) {
  scheduler::Executor& ex = session.executor_for(batch);
  const scheduler::ExecutionPlan& plan = ex.plan();
  std::map<std::string, OpTime> by_label;
  double last = 0;
  ex.set_step_observer([&](const scheduler::StepTiming& st) {
    const double now = process_cpu_seconds();
    profiler::StepInfo info = profiler::describe_step(plan, *st.step);
    OpTime& o = by_label[info.label];
    o.op = info.label;
    o.calls += 1;
    o.cpu_ms += 1e3 * (now - last);
    o.flops += info.flops;
    o.bytes += info.bytes;
    last = now;
  });
  for (int r = 0; r < runs; ++r) {
    last = process_cpu_seconds();
    session.run(batch);
  }
  ex.set_step_observer(nullptr);
  std::vector<OpTime> out;
  for (auto& [_, o] : by_label) {
    o.cpu_ms /= runs;
    o.flops /= runs;
    o.bytes /= runs;
    o.calls /= runs;
    out.push_back(o);
  }
  std::sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.cpu_ms > b.cpu_ms; });
  return out;
}

}  // namespace

BenchReport run_bench(const BenchOptions& o) {
  if (o.batch <= 0 || o.infer_batch <= 0) throw ValueError("[bench] batch sizes must be positive");
  if (o.threads <= 0) throw ValueError(str_cat("[bench] --threads must be positive, got ", o.threads));
  set_num_threads(o.threads);
  BenchReport r;
  r.options = o;
  TrainConfig cfg;
  cfg.model_name = o.model;
  cfg.batch_size = o.batch;
  cfg.eval_batch_size = o.infer_batch;
  cfg.seed = o.seed;
  // The optimizer of the model's recipe (SGD with momentum for the CNNs, AdamW for the
  // vision transformer), as `dagrad train` runs it.
  const models::Recipe recipe = models::default_recipe(o.model);
  cfg.optimizer = recipe.optimizer;
  cfg.momentum = recipe.momentum;
  cfg.weight_decay = recipe.weight_decay;
  r.optimizer = recipe.optimizer == "sgd" ? str_cat("SGD momentum ", recipe.momentum)
                                          : str_cat(recipe.optimizer == "adamw" ? "AdamW" : "Adam",
                                                    recipe.weight_decay > 0 ? str_cat(" weight decay ", recipe.weight_decay) : "");
  cfg.compile.num_streams = o.streams;
  cfg.compile.precision = o.precision;
  cfg.compile.memory_budget = o.memory_budget;
  cfg.progress = false;
  std::ostringstream quiet;
  std::shared_ptr<nn::Module> model = models::make_model(o.model);
  Trainer trainer(model, cfg, quiet);

  scheduler::Session& train = trainer.train_session();
  TensorMap batch = random_batch(o.batch, o.seed, true, recipe.lr);
  r.train = measure(train, batch, o.batch, o.warmup_steps, o.seconds);
  r.arena_mib = static_cast<double>(train.executor_for(batch).arena_bytes()) / (1 << 20);
  if (o.op_profile) {
    r.ops = op_profile(train, batch, 10);
    r.peak = profiler::cpu_peak(o.threads);
  }
  r.train_peak_rss_mib = peak_rss_mib();

  if (o.infer) {
    // The forward pass in evaluation mode (no dropout), bound to the trained parameters.
    scheduler::Session eval(
        [model, precision = o.precision](Graph& g, const TensorMap& in) -> std::vector<Value> {
          Value x = g.input("images", in.at("images").shape());
          model->train(false);
          Value log_probs = (*model)(x);
          model->train(true);
          if (precision != DType::f32) scheduler::apply_mixed_precision(g, precision);
          return {log_probs};
        },
        cfg.compile);
    eval.bind(trainer.state());
    r.infer = measure(eval, random_batch(o.infer_batch, o.seed + 7, false), o.infer_batch, 2, o.seconds / 2);
  }
  r.peak_rss_mib = peak_rss_mib();
  return r;
}

}  // namespace dagrad::bench
