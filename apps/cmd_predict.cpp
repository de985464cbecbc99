// dagrad predict / dagrad plan.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "apps/common.h"
#include "apps/train_args.h"
#include "frontend/image.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "runtime/error.h"
#include "scheduler/session.h"

namespace dagrad::cli {

Command add_predict_command(CLI::App& app) {
  struct Args {
    CheckpointArgs checkpoint;
    std::string image;
    int64_t index = -1;
    bool invert = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("predict", "classify one image (a 28x28 PNG/PGM, or a test-set index)");
  a->checkpoint.add_to(*cmd);
  cmd->add_option("image", a->image, "a 28x28 greyscale PNG or PGM, white digit on black (see --invert)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--index", a->index, "use image N of the test split instead of a file")->check(non_negative_number);
  cmd->add_flag("--invert", a->invert, "the image is a dark digit on a light background");
  return {cmd, [a] {
    if (a->image.empty() == (a->index < 0)) throw ValueError("predict needs exactly one of IMAGE or --index N");
    Tensor pixels;  // uint8 [28,28]
    int64_t truth = -1;
    const DataOptions& data = a->checkpoint.data;
    Normalization norm = data.normalization();
    if (a->index >= 0) {
      MnistDataset test = data.load("test");
      if (a->index >= test.size())
        throw ValueError(str_cat("--index ", a->index, " is out of range: the test split has ", test.size(), " images"));
      pixels = Tensor::empty(Shape{test.rows(), test.cols()}, DType::u8);
      std::memcpy(pixels.raw_data(), test.images().data<uint8_t>() + a->index * pixels.numel(), pixels.nbytes());
      truth = test.labels().data<uint8_t>()[a->index];
    } else {
      pixels = read_grey_image(a->image);
    }
    if (pixels.shape() != Shape{28, 28})
      throw ShapeError(str_cat("image is ", pixels.shape()[1], "x", pixels.shape()[0], " pixels; the model needs 28x28"));
    Tensor x = Tensor::empty(Shape{1, 1, 28, 28});
    for (int64_t i = 0; i < 784; ++i) {
      double v = pixels.data<uint8_t>()[i] / 255.0;
      if (a->invert) v = 1 - v;
      x.data<float>()[i] = static_cast<float>((v - norm.mean) / norm.std);
    }
    Tensor log_probs = a->checkpoint.load_trainer()->predict(x);
    const float* lp = log_probs.data<float>();
    int best = 0;
    for (int c = 1; c < 10; ++c)
      if (lp[c] > lp[best]) best = c;
    std::cout << "prediction: " << best;
    if (truth >= 0) std::cout << " (label " << truth << ")";
    std::cout << "\n";
    for (int c = 0; c < 10; ++c) {
      double p = std::exp(static_cast<double>(lp[c]));
      std::printf("  %d  %6.2f%%  %s\n", c, 100 * p, std::string(static_cast<size_t>(std::lround(p * 40)), '#').c_str());
    }
  }};
}

Command add_plan_command(CLI::App& app) {
  struct Args {
    TrainArgs train;  // --model, --batch and the schedule options
    std::string format = "table";
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("plan", "print the compiled training-step plan without running it");
  cmd->add_option("--model", a->train.model, model_help())
      ->check(model_name)
      ->capture_default_str();
  cmd->add_option("--batch", a->train.batch, "batch size")->check(positive_number)->capture_default_str();
  a->train.sched.add_to(*cmd);
  cmd->add_option("--format", a->format, "table, dot or json")
      ->check(CLI::IsMember({"table", "dot", "json"}))
      ->capture_default_str();
  return {cmd, [a] {
    Trainer trainer(models::load_model(a->train.model), train_config(a->train), std::cerr);
    const int64_t batch = a->train.batch;
    TensorMap in{{trainer.names().input, Tensor::zeros(Shape{batch, 1, 28, 28})},
                 {trainer.names().target, Tensor::zeros(Shape{batch}, DType::i64)},
                 {"lr", Tensor::full(Shape{}, 0.01)}};
    const scheduler::ExecutionPlan& plan = trainer.train_session().executor_for(in).plan();
    if (a->format == "dot") std::cout << plan.to_dot();
    else if (a->format == "json") std::cout << plan.to_json() << "\n";
    else std::cout << plan.to_table() << "\n";
  }};
}

}  // namespace dagrad::cli
