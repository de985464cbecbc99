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

// A vision transformer for 28×28 digits. 7×7 patches (16 tokens) embedded by a strided
// convolution (1→64, kernel 7, stride 7, run as one GEMM over the patches:
// nn::PatchEmbedding), a learned position embedding [1,16,64], two
// post-norm transformer encoder layers (PyTorch's default placement; width 64, 4 heads
// of 16, GELU feed-forward of 128, no dropout), a final layer norm, the mean over the
// tokens, linear 64→10, log_softmax. Parameter names follow PyTorch (patch_embed,
// pos_embedding, encoder.layers.N.self_attn.in_proj_weight, ..., norm, head);
// bench/torch_models.py builds the same model from torch.nn. (Post-norm without dropout
// measured best on the 8,000-digit split: 95.5-95.55% after 10 epochs for seeds 1-3,
// against 94.5-94.75% pre-norm with dropout 0.1; bench/NOTES.md.)
struct VitConfig {
  int64_t patch = 7, width = 64, heads = 4, layers = 2, mlp = 128;
  double dropout = 0;
  bool norm_first = false;
  bool gelu = true;
};
std::shared_ptr<nn::Sequential> mnist_vit(const VitConfig& c = {});

// "mnist-cnn", "lenet5", "mlp" or "mnist-vit"; throws ValueError listing them otherwise.
std::shared_ptr<nn::Sequential> make_model(const std::string& name);
std::vector<std::string> model_names();
// The names as a phrase for help texts: "mnist-cnn, lenet5, mlp or mnist-vit".
std::string model_list();

// How a model trains unless told otherwise (`dagrad train` flags override each field).
struct Recipe {
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double lr = 0.01;
  double momentum = 0.9;      // SGD
  double weight_decay = 0;
  std::string schedule = "constant";  // constant | step | cosine | onecycle
  int64_t warmup_steps = 0;
  int epochs = 5;
};
// The CNNs and the MLP: SGD lr 0.01, momentum 0.9, constant, 5 epochs. mnist-vit: AdamW
// lr 5e-3, weight decay 0.1, with a one-cycle schedule (a cosine warm-up over 30% of the
// steps from lr/25, then cosine decay to lr/250000), 10 epochs.
Recipe default_recipe(const std::string& model);

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
