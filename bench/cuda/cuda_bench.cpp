// dagrad_cuda_bench: training throughput on the GPU, with and without CUDA Graph replay.
//
//   dagrad_cuda_bench [--model mnist-cnn] [--batch 64] [--steps 200] [--warmup 10] [--streams 1]
//                     [--precision f32|bf16] [--tf32]
//
// The step is the trainer's compiled training step (forward, backward, SGD updates) on
// a fixed random host batch, so every step also copies the batch to the device and the
// loss back, as training does. Eager: the executor launches every kernel; graph: the
// same run captured once into a CUDA Graph (scheduler/cuda_graph.h) and replayed.
// Without a usable GPU it prints the reason on one line and exits with status 1.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/math_mode.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "scheduler/cuda_graph.h"
#include "scheduler/session.h"

using namespace dagrad;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

TensorMap random_batch(int64_t batch) {
  Tensor images = Tensor::empty(Shape{batch, 1, 28, 28});
  Generator gen(1);
  fill_normal(images, gen, 0.0, 1.0);
  Tensor labels = Tensor::empty(Shape{batch}, DType::i64);
  for (int64_t i = 0; i < batch; ++i) labels.data<int64_t>()[i] = static_cast<int64_t>(random_bits(2, i) % 10);
  return {{"images", images}, {"labels", labels}, {"lr", Tensor::full(Shape{}, 0.01)}};
}

template <class Step>
double seconds_per_step(int steps, Step&& step) {
  const double t0 = now_s();
  for (int i = 0; i < steps; ++i) step();
  return (now_s() - t0) / steps;
}

void report(const char* what, double s, int64_t batch) {
  std::printf("%-28s %8.3f ms/step  %10.0f images/s\n", what, 1e3 * s, static_cast<double>(batch) / s);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dagrad_cuda_bench: GPU training throughput, eager and as a replayed CUDA Graph"};
  std::string model = "mnist-cnn";
  int64_t batch = 64;
  int steps = 200, warmup = 10, streams = 1;
  app.add_option("--model", model, models::model_list())->check(CLI::IsMember(models::model_names()));
  app.add_option("--batch", batch, "batch size")->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "timed steps per mode")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--streams", streams, "CUDA streams of the plan")->check(CLI::PositiveNumber);
  std::string precision = "f32";
  bool tf32 = false;
  app.add_option("--precision", precision, "f32, or bf16: bfloat16 GEMM/convolution operands (mixed precision)")
      ->check(CLI::IsMember({"f32", "bf16"}));
  app.add_flag("--tf32", tf32, "float32 GEMMs and convolutions on TF32 tensor cores");
  CLI11_PARSE(app, argc, argv);
  set_tf32_allowed(tf32);
  try {
    Backend& gpu = backend_for(Device::cuda(0));  // the one-line reason when there is no GPU
    TrainConfig cfg;
    cfg.model_name = model;
    cfg.batch_size = batch;
    cfg.progress = false;
    cfg.device = Device::cuda(0);
    cfg.compile.num_streams = streams;
    cfg.compile.precision = parse_dtype(precision);
    std::ostringstream log;
    Trainer trainer(models::make_model(model), cfg, log);
    const TensorMap in = random_batch(batch);
    scheduler::Executor& ex = trainer.train_session().executor_for(in);
    std::printf("device %s; model %s, batch %lld, %d stream(s), %s%s, %d kernels (%d fused groups)\n",
                gpu.name().c_str(), model.c_str(), static_cast<long long>(batch), streams,
                precision == "bf16" ? "bfloat16 products" : "float32", tf32 ? " (TF32)" : "", ex.plan().num_kernels(),
                static_cast<int>(ex.plan().groups.size()));
    for (int i = 0; i < std::max(warmup, 1); ++i) ex.run(in);
    report("eager (a launch per kernel)", seconds_per_step(steps, [&] { ex.run(in); }), batch);
    scheduler::CudaGraphRunner graph(ex, in);
    for (int i = 0; i < warmup; ++i) graph.run(in);
    const double replay = seconds_per_step(steps, [&] { graph.run(in); });
    report(str_cat("CUDA Graph (", graph.num_nodes(), " nodes)").c_str(), replay, batch);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "dagrad_cuda_bench: %s\n", e.what());
    return 1;
  }
}
