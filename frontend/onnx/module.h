// An imported ONNX model as an nn::Module, so the Trainer, the profiler and every command
// train and run it like a built-in model: its floating initializers are the module's
// parameters (named as in the file, initialised with the file's values), and forward()
// translates the model's nodes into the graph for the input's shape.
#pragma once
#include <filesystem>

#include "frontend/nn.h"
#include "frontend/onnx/import.h"

namespace dagrad::onnx {

class OnnxModule final : public nn::Module {
 public:
  // The model must take one input and give one output.
  explicit OnnxModule(Model model);
  static std::shared_ptr<OnnxModule> load(const std::filesystem::path& path);

  Value forward(Value x) override;
  void collect(std::vector<nn::ParamSpec>& out) const override;

  const Model& model() const { return model_; }
  // Whether the output is log-probabilities (its last node is LogSoftmax): a classifier
  // to train with nll_loss; otherwise its output is taken for logits.
  bool outputs_log_probabilities() const;

 private:
  Model model_;
};

}  // namespace dagrad::onnx
