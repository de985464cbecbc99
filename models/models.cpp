#include "models/models.h"

#include <filesystem>

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

std::vector<std::string> model_names() { return {"mnist-cnn", "lenet5", "mlp"}; }

std::shared_ptr<Sequential> make_model(const std::string& name) {
  if (name == "mnist-cnn") return mnist_cnn();
  if (name == "lenet5") return lenet5();
  if (name == "mlp") return mlp();
  throw ValueError(str_cat("unknown model '", name, "' (expected mnist-cnn, lenet5 or mlp)"));
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
