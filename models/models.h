// The model zoo: each model is a few lines of the DSL. All take [N,1,28,28] images and
// return log-probabilities [N,10] (train with nll_loss, as PyTorch's examples/mnist).
#pragma once
#include <string>
#include <vector>

#include "frontend/nn.h"
#include <memory>

namespace dagrad::models {

// PyTorch's examples/mnist CNN: conv 1→32 3×3, relu, conv 32→64 3×3, relu, max_pool 2,
// dropout 0.25, flatten, linear 9216→128, relu, dropout 0.5, linear 128→10, log_softmax.
std::shared_ptr<nn::Sequential> mnist_cnn();
// LeNet-5 with ReLU and max pooling (padding 2 on the first conv for 28×28 input).
std::shared_ptr<nn::Sequential> lenet5();
// A multilayer perceptron 784→256→128→10.
std::shared_ptr<nn::Sequential> mlp();

// "mnist-cnn", "lenet5" or "mlp"; throws ValueError listing them otherwise.
std::shared_ptr<nn::Sequential> make_model(const std::string& name);
std::vector<std::string> model_names();

// A built-in model by name, or an imported ONNX model from a path ending in ".onnx"
// (frontend/onnx/module.h).
std::shared_ptr<nn::Module> load_model(const std::string& name_or_path);
bool is_onnx_path(const std::string& name);
// The name for files and titles: the built-in name, or an ONNX file's stem.
std::string short_name(const std::string& name_or_path);
// Whether the model's output is log-probabilities (the built-in models', and ONNX models
// ending in LogSoftmax) rather than logits: it decides the classification loss.
bool outputs_log_probabilities(const std::string& name_or_path);

}  // namespace dagrad::models
