// A model of your own, trained, profiled and checkpointed with an installed dagrad:
//
//   train_cnn [OUT_DIR]        (default: out)
//
// 1. defines a small CNN with batch norm and a residual block (a Module subclass),
// 2. trains it for a few steps on ShapesDataset, synthetic images it makes up,
// 3. saves a safetensors checkpoint and loads it into a fresh model, which must predict
//    the same,
// 4. profiles the compiled training step (per-op table, Chrome trace, HTML report),
// 5. trains the zoo's lenet5 on the same data and saves it with the test images as IDX
//    files, so the `dagrad` command can evaluate it:
//      dagrad eval --model lenet5 --data OUT_DIR/data --load OUT_DIR/lenet5.safetensors --batch 100
#include <dagrad/dagrad.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>

#include "shapes_dataset.h"

namespace fs = std::filesystem;
using namespace dagrad;  // fine in a program; dagrad's own headers never do this

namespace {

// conv → bn → relu → conv → bn, added to the block's input, then relu (He et al. 2016).
// Shapes are kept ([N,C,H,W] in and out), so the skip connection is a plain add.
class ResidualBlock final : public nn::Module {
 public:
  ResidualBlock(const std::string& name, int64_t channels)
      : Module(name),
        conv1_(name + ".conv1", channels, channels, 3, {.padding = 1}, /*bias=*/false),
        bn1_(name + ".bn1", channels),
        conv2_(name + ".conv2", channels, channels, 3, {.padding = 1}, /*bias=*/false),
        bn2_(name + ".bn2", channels) {}

  Value forward(Value x) override {
    Value h = relu(bn1_(conv1_(x)));
    h = bn2_(conv2_(h));
    return relu(h + x);
  }
  // The parameters and buffers of the layers inside, so trainers and checkpoints see them.
  void collect(std::vector<nn::ParamSpec>& out) const override {
    conv1_.collect(out);
    bn1_.collect(out);
    conv2_.collect(out);
    bn2_.collect(out);
  }
  // Batch norm uses batch statistics in training and running statistics in evaluation.
  void train(bool on) override {
    Module::train(on);
    bn1_.train(on);
    bn2_.train(on);
  }

 private:
  nn::Conv2d conv1_;
  nn::BatchNorm2d bn1_;
  nn::Conv2d conv2_;
  nn::BatchNorm2d bn2_;
};

// [N,1,28,28] images → log-probabilities [N,10] (what Trainer expects: it adds nll_loss).
std::shared_ptr<nn::Module> tiny_resnet() {
  return std::make_shared<nn::Sequential>("", std::vector<nn::ModulePtr>{
      nn::conv2d("stem", 1, 8, 3, {.padding = 1}, /*bias=*/false),  // [N,8,28,28]
      nn::batch_norm2d("stem_bn", 8), nn::relu(),
      nn::max_pool2d({.kernel = 2}),                                 // [N,8,14,14]
      std::make_shared<ResidualBlock>("block", 8),
      nn::max_pool2d({.kernel = 2}),                                 // [N,8,7,7]
      nn::flatten(), nn::linear("fc", 8 * 7 * 7, 10), nn::log_softmax()});
}

double mean_of(const std::vector<float>& v, size_t begin, size_t end) {
  return std::accumulate(v.begin() + static_cast<std::ptrdiff_t>(begin), v.begin() + static_cast<std::ptrdiff_t>(end),
                         0.0) / static_cast<double>(end - begin);
}

int run(const fs::path& out) {
  fs::create_directories(out);
  ShapesDataset train(1024, /*seed=*/1), test(200, /*seed=*/2);

  TrainConfig cfg;
  cfg.model_name = "tiny-resnet";  // stored in the checkpoint and checked when loading
  cfg.epochs = 1;
  cfg.batch_size = 32;
  cfg.max_steps_per_epoch = 24;  // a few steps are enough to see it learn
  cfg.eval_batch_size = 100;
  cfg.optimizer = "sgd";
  cfg.momentum = 0.9;
  cfg.schedule.base_lr = 0.05;
  cfg.progress = false;

  // ---- 2. train ----
  auto model = tiny_resnet();
  std::cout << "tiny-resnet: " << nn::count_parameters(*model) << " parameters\n";
  Trainer trainer(model, cfg, std::cout);
  std::vector<EpochMetrics> history = trainer.fit(train, test);
  const std::vector<float>& losses = trainer.step_losses();
  const double first = mean_of(losses, 0, 4), last = mean_of(losses, losses.size() - 4, losses.size());
  std::printf("loss over the first 4 steps %.4f, over the last 4 %.4f\n", first, last);
  if (!(last < first)) {
    std::cerr << "train_cnn: the loss did not fall\n";
    return 1;
  }

  // ---- 3. checkpoint: save, list, load into a fresh model ----
  const fs::path ckpt = out / "tiny-resnet.safetensors";
  trainer.save(ckpt);
  Checkpoint saved = load_safetensors(ckpt);
  std::cout << "checkpoint " << ckpt.string() << ": " << saved.tensors.size() << " tensors (parameters, batch-norm "
            << "statistics, momentum buffers), model '" << saved.metadata.at("model") << "'\n";

  Batch probe = test.gather(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  Trainer reloaded(tiny_resnet(), cfg, std::cout);
  reloaded.load_parameters(ckpt);
  const std::vector<float> want = trainer.predict(probe.input).to_vector<float>();
  const std::vector<float> got = reloaded.predict(probe.input).to_vector<float>();
  if (want != got) {
    std::cerr << "train_cnn: the reloaded model predicts differently\n";
    return 1;
  }
  std::cout << "reloaded the checkpoint into a fresh model: identical predictions\n";

  // ---- 4. profile the compiled training step ----
  // lr = 0: these runs measure the step without moving the trained weights.
  std::vector<int64_t> first_32(32);
  std::iota(first_32.begin(), first_32.end(), 0);
  Batch batch = train.gather(first_32);
  TensorMap inputs{{trainer.names().input, batch.input}, {trainer.names().target, batch.target},
                   {"lr", Tensor::full(Shape{}, 0.0)}};
  scheduler::Session& session = trainer.train_session();
  profiler::Profiler prof(session, inputs);
  for (int i = 0; i < 5; ++i) prof.run([&] { session.run(inputs); });
  std::cout << "\nplan: " << prof.plan().summary() << "\n" << prof.summary_table();
  prof.write_report(out / "profile", "tiny-resnet training step, batch 32");
  std::cout << "profile: " << (out / "profile").string() << "/report.html, trace.json (ui.perfetto.dev)\n\n";

  // ---- 5. a zoo model for the dagrad command ----
  TrainConfig zoo_cfg = cfg;
  zoo_cfg.model_name = "lenet5";
  Trainer zoo(models::lenet5(), zoo_cfg, std::cout);
  zoo.fit(train, test);
  zoo.save(out / "lenet5.safetensors");
  const EvalResult zoo_eval = zoo.evaluate(test);
  std::printf("lenet5 checkpoint: test loss %.4f, accuracy %.2f%% on %lld images\n", zoo_eval.loss,
              100 * zoo_eval.score("accuracy"), static_cast<long long>(zoo_eval.samples));
  test.write_idx(out / "data", "t10k");
  std::cout << "evaluate it with: dagrad eval --model lenet5 --data " << (out / "data").string() << " --load "
            << (out / "lenet5.safetensors").string() << " --batch 100\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc > 1 ? fs::path(argv[1]) : fs::path("out"));
  } catch (const dagrad::Error& e) {
    std::cerr << "train_cnn: " << e.what() << "\n";
    return 1;
  }
}
