#include "frontend/onnx/module.h"

namespace dagrad::onnx {

OnnxModule::OnnxModule(Model model) : nn::Module("onnx"), model_(std::move(model)) {
  if (model_.inputs().size() != 1 || model_.outputs().size() != 1)
    throw UnsupportedError(str_cat(model_.description(), " has ", model_.inputs().size(), " inputs and ",
                                   model_.outputs().size(), " outputs; dagrad trains models of one input and one output"));
}

std::shared_ptr<OnnxModule> OnnxModule::load(const std::filesystem::path& path) {
  return std::make_shared<OnnxModule>(Model::load(path));
}

Value OnnxModule::forward(Value x) {
  TensorMap values;  // the parameters' values come from the Trainer's state, not from here
  return model_.build(*x.graph, std::vector<Value>{x}, &values)[0];
}

void OnnxModule::collect(std::vector<nn::ParamSpec>& out) const {
  for (const auto& [name, t] : model_.initializers()) {
    if (!is_floating(t.dtype())) continue;
    Tensor value = t;
    out.push_back({name, t.shape(), true, [value](Tensor& dst, Generator&) { dst.copy_from(value); }});
  }
}

bool OnnxModule::outputs_log_probabilities() const { return model_.output_op_type() == "LogSoftmax"; }

}  // namespace dagrad::onnx
