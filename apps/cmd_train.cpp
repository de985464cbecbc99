// dagrad train / dagrad eval: the MNIST training program and its evaluation.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "apps/common.h"
#include "apps/train_args.h"
#include "comm/communicator.h"
#include "frontend/metrics.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/cpu/gemm_bf16.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace dagrad::cli {

namespace {

void print_confusion(const Tensor& confusion) {
  const int64_t classes = confusion.shape()[0];
  std::cout << "confusion matrix (rows: true class, columns: predicted)\n     ";
  for (int64_t c = 0; c < classes; ++c) std::cout << std::setw(6) << c;
  std::cout << "\n";
  for (int64_t t = 0; t < classes; ++t) {
    std::cout << std::setw(5) << t;
    for (int64_t p = 0; p < classes; ++p) std::cout << std::setw(6) << confusion.data<int64_t>()[t * classes + p];
    std::cout << "\n";
  }
}

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) {
  g_stop = true;
  std::signal(SIGINT, SIG_DFL);
}

// ", bfloat16 mixed precision (products on ...)": where the 16-bit products run, so a
// run on a CPU without fast bfloat16 kernels says so (bench prints the same).
std::string precision_note(const TrainArgs& a) {
  const bool cpu = check_device(a.device).is_cpu();
  if (a.sched.precision == "f32") return a.sched.tf32 && !cpu ? ", float32 products on TF32 tensor cores" : "";
  const std::string where = cpu ? gemm_bf16::kernels_name() : "tensor cores (cuBLAS)";
  return str_cat(", ", dtype_name(parse_dtype(a.sched.precision)), " mixed precision (products on ", where, ")");
}

// The recipe's settings printed are the ones trained with: the flags given, else the
// model's own (recipe()).
void print_model_line(const TrainArgs& a, const nn::Module& model) {
  const models::Recipe r = recipe(a);
  std::cout << "model: " << a.model << " (" << nn::count_parameters(model) << " parameters), optimizer " << r.optimizer
            << " lr " << r.lr << (r.weight_decay > 0 ? str_cat(" weight decay ", r.weight_decay) : "")
            << ", schedule " << r.schedule << ", batch " << a.batch << ", " << num_threads() << " threads, "
            << a.sched.streams << " stream(s)" << precision_note(a) << "\n";
}

// --epochs 0 without --resume: the initialised parameters (and zero optimizer state) as
// an epoch-0 checkpoint, to compare initialisations or to start several runs from it.
// Needs no data.
void save_initial_checkpoint(const TrainArgs& a, const std::filesystem::path& ckpt) {
  auto model = models::load_model(a.model);
  Trainer trainer(model, train_config(a, &g_stop), std::cout);
  print_model_line(a, *model);
  if (comm::world().rank() != 0) return;
  trainer.save(ckpt);
  std::cout << "no epochs to train: wrote the initialised parameters (seed " << a.seed << ")\ncheckpoint: "
            << ckpt.string() << "\n";
}

void run_train(const TrainArgs& a) {
  check_device(a.device);  // a GPU that cannot be used fails before anything is made
  const std::filesystem::path out(a.out);
  const std::filesystem::path ckpt =
      a.save.empty() ? out / (models::short_name(a.model) + ".safetensors") : std::filesystem::path(a.save);
  const bool initial_only = recipe(a).epochs == 0 && a.resume.empty();
  if (!initial_only || a.save.empty()) prepare_output_directory(out, "--out");
  if (!a.save.empty()) prepare_output_file(ckpt, "--save");
  if (initial_only) return save_initial_checkpoint(a, ckpt);

  // Ctrl-C finishes the current step and stops cleanly; a second one kills at once.
  std::signal(SIGINT, on_sigint);
  MnistDataset train = a.data.load("train");
  MnistDataset test = a.data.load("test");
  std::cout << "data: " << a.data.directory().string() << " (" << train.size() << " train, " << test.size()
            << " test images)\n";
  const comm::Communicator& world = comm::world();
  if (world.world_size() > 1)
    std::cout << "data parallel: " << world.world_size() << " ranks (" << world.name() << "), batch " << a.batch
              << " per rank = " << a.batch * world.world_size() << " global, gradient buckets of " << a.sched.bucket_mb
              << " MiB\n";

  auto model = models::load_model(a.model);
  Trainer trainer(model, train_config(a, &g_stop), std::cout);
  print_model_line(a, *model);
  if (!a.resume.empty()) {
    trainer.resume(a.resume);
    std::cout << "resumed from " << a.resume << " after epoch " << trainer.epochs_done() << " (step "
              << trainer.global_step() << ")\n";
  }

  const std::filesystem::path csv = out / "metrics.csv";
  const std::filesystem::path svg = out / "curves.svg";
  std::vector<EpochMetrics> history;
  trainer.fit(train, test, [&](const EpochMetrics& m) {
    history.push_back(m);
    if (world.rank() != 0) return;  // one writer: rank 0 holds the same parameters as every rank
    trainer.save(ckpt);
    write_metrics_csv(csv, history);
    write_text_atomically(svg, metrics_svg(history, a.model + " on " + a.data.directory().string()));
  });
  if (history.empty()) {
    std::cout << "nothing to train: the checkpoint already has " << trainer.epochs_done() << " epochs\n";
    return;
  }
  const EpochMetrics& last = history.back();
  std::cout << std::fixed << std::setprecision(2) << "test accuracy: " << 100 * last.test_score("accuracy") << "%\n"
            << "checkpoint: " << ckpt.string() << "\nmetrics: " << csv.string() << "\nplot: " << svg.string() << "\n";
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "train a model, evaluating after every epoch");
  a->add_to(*cmd);
  return {cmd, [a] { run_train(*a); }};
}

Command add_eval_command(CLI::App& app) {
  struct EvalArgs {
    CheckpointArgs checkpoint;
    int64_t batch = 1000;
    std::string split = "test";
  };
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a checkpoint: loss, accuracy and confusion matrix");
  a->checkpoint.add_to(*cmd);
  cmd->add_option("--batch", a->batch, "batch size")->check(positive_number)->capture_default_str();
  cmd->add_option("--split", a->split, "train or test")->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  return {cmd, [a] {
    std::unique_ptr<Trainer> trainer = a->checkpoint.load_trainer(a->batch);
    EvalResult r = trainer->evaluate(a->checkpoint.data.load(a->split));
    std::cout << std::fixed << std::setprecision(4) << a->split << " loss " << r.loss << ", accuracy "
              << std::setprecision(2) << 100 * r.score("accuracy") << "% on " << r.samples << " images\n";
    print_confusion(r.totals.at("confusion"));
  }};
}

}  // namespace dagrad::cli
