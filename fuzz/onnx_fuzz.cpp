// libFuzzer target: the ONNX importer on arbitrary bytes. A model that parses is imported
// (symbolic dimensions as 1, initializers as constants, so shape computations fold); a bad
// one must be a dagrad::Error, nothing else (another exception, a sanitizer report or a
// huge allocation is a finding).

#include "frontend/onnx/import.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const dagrad::onnx::Model model =
        dagrad::onnx::Model::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    dagrad::onnx::InputShapes shapes;
    for (const auto& in : model.inputs()) {
      std::vector<int64_t> dims = in.dims;
      for (int64_t& d : dims)
        if (d < 0 || d > 64) d = 1;  // keep inputs small: the importer allocates nothing for them
      shapes[in.name] = dims;
    }
    dagrad::onnx::import_model(model, shapes, dagrad::onnx::Initializers::constants);
  } catch (const dagrad::Error&) {
  }
  return 0;
}
