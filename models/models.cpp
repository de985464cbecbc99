#include "models/models.h"

#include <filesystem>

#include "frontend/nn_norm.h"
#include "frontend/nn_transformer.h"
#include "frontend/onnx/module.h"
#include "runtime/error.h"

namespace dagrad::models {

using namespace dagrad::nn;

std::shared_ptr<Sequential> mnist_cnn() {
  return std::make_shared<Sequential>("", std::vector<ModulePtr>{
      conv2d("conv1", 1, 32, 3), relu(),
      conv2d("conv2", 32, 64, 3), relu(),
      max_pool2d({.kernel = 2}), dropout("dropout1", 0.25), flatten(),
      linear("fc1", 9216, 128), relu(), dropout("dropout2", 0.5),
      linear("fc2", 128, 10), log_softmax()});
}

std::shared_ptr<Sequential> lenet5() {
  return std::make_shared<Sequential>("", std::vector<ModulePtr>{
      conv2d("conv1", 1, 6, 5, {.padding = 2}), relu(), max_pool2d({.kernel = 2}),
      conv2d("conv2", 6, 16, 5), relu(), max_pool2d({.kernel = 2}), flatten(),
      linear("fc1", 400, 120), relu(), linear("fc2", 120, 84), relu(),
      linear("fc3", 84, 10), log_softmax()});
}

std::shared_ptr<Sequential> mlp() {
  return std::make_shared<Sequential>("", std::vector<ModulePtr>{
      flatten(), linear("fc1", 784, 256), relu(), linear("fc2", 256, 128), relu(),
      linear("fc3", 128, 10), log_softmax()});
}

std::shared_ptr<Sequential> mnist_vit(const VitConfig& c) {
  const int64_t grid = 28 / c.patch, tokens = grid * grid;
  if (c.patch <= 0 || 28 % c.patch)
    throw ValueError(str_cat("[mnist-vit] the patch size must divide 28, got ", c.patch));
  TransformerEncoderOptions layer{.dim_feedforward = c.mlp, .dropout = c.dropout, .attention_dropout = 0,
                                  .gelu = c.gelu, .norm_first = c.norm_first};
  std::vector<ModulePtr> m{
      std::make_shared<PatchEmbedding>("patch_embed", 1, c.width, c.patch),  // [N, tokens, width]
      position_embedding("pos_embedding", tokens, c.width)};
  for (int64_t i = 0; i < c.layers; ++i)
    m.push_back(std::make_shared<TransformerEncoderLayer>(str_cat("encoder.layers.", i), c.width, c.heads, layer));
  m.push_back(nn::layer_norm("norm", c.width));
  m.push_back(std::make_shared<Lambda>("mean_pool", [](Value x) { return mean(x, {1}); }));  // [N, width]
  m.push_back(linear("head", c.width, 10));
  m.push_back(log_softmax());
  return std::make_shared<Sequential>("", std::move(m));
}

std::vector<std::string> model_names() { return {"mnist-cnn", "lenet5", "mlp", "mnist-vit"}; }

std::string model_list() {
  const std::vector<std::string> names = model_names();
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

std::shared_ptr<Sequential> make_model(const std::string& name) {
  if (name == "mnist-cnn") return mnist_cnn();
  if (name == "lenet5") return lenet5();
  if (name == "mlp") return mlp();
  if (name == "mnist-vit") return mnist_vit();
  throw ValueError(str_cat("unknown model '", name, "' (expected ", model_list(), ")"));
}

Recipe default_recipe(const std::string& model) {
  if (model == "mnist-vit")
    return Recipe{.optimizer = "adamw", .lr = 5e-3, .weight_decay = 0.1, .schedule = "onecycle", .epochs = 10};
  return Recipe{};
}

bool is_onnx_path(const std::string& name) { return name.size() > 5 && name.ends_with(".onnx"); }

std::string short_name(const std::string& name_or_path) {
  return is_onnx_path(name_or_path) ? std::filesystem::path(name_or_path).stem().string() : name_or_path;
}

std::shared_ptr<nn::Module> load_model(const std::string& name_or_path) {
  if (is_onnx_path(name_or_path)) return onnx::OnnxModule::load(name_or_path);
  return make_model(name_or_path);
}

bool outputs_log_probabilities(const std::string& name_or_path) {
  if (!is_onnx_path(name_or_path)) return true;
  return onnx::Model::load(name_or_path).output_op_type() == "LogSoftmax";
}

}  // namespace dagrad::models
