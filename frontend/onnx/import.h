// ONNX models into dagrad graphs. A model (opsets 1–17 of the default domain, as ONNX 1.12
// defines them) becomes ordinary graph nodes: graph inputs become input nodes, floating
// initializers become trainable parameters named as in the file (others become
// constants), outputs become Values. Each ONNX op is translated by one small function
// keyed by (op type, opset range) into dagrad ops, so an imported graph is
// differentiated, scheduled, trained and profiled like any other.
//
// dagrad graphs have static shapes: every dimension an input leaves symbolic must be
// given (InputShapes), and values that shape computations need (Reshape's target,
// Slice's bounds, ...) must be known at import time. Anything unsupported is an
// UnsupportedError naming the node, its op type and opset, and what dagrad supports; a
// corrupt or truncated file is an IoError.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/onnx/errors.h"
#include "ops/graph.h"
#include "ops/interpreter.h"

namespace dagrad::onnx {

// Shapes for inputs whose dimensions the model leaves symbolic (or to override them).
using InputShapes = std::map<std::string, std::vector<int64_t>>;

struct ValueInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> dims;  // -1 where symbolic
};

// A parsed model. Cheap to copy (shares the parsed protobuf).
class Model {
 public:
  static Model load(const std::filesystem::path& path);
  // From the bytes of a .onnx file; `what` names it in errors.
  static Model parse(std::string_view bytes, const std::string& what = "ONNX model");

  int opset() const;  // of the default domain
  const std::vector<ValueInfo>& inputs() const;   // graph inputs that are not initializers
  const std::vector<ValueInfo>& outputs() const;
  // Initializers as host tensors, by name.
  const TensorMap& initializers() const;
  std::string description() const;  // "ONNX model 'torch-jit-export' (opset 13, 12 nodes)"
  // The op type of the node that computes the first output ("" if an input or initializer).
  std::string output_op_type() const;

  // Adds the model's nodes to `g`, reading `inputs` (one per inputs(), in order, of the
  // declared dtypes and of shapes the model accepts). With `parameters` given, floating
  // initializers become trainable parameter nodes named as in the file, their initial
  // values added to *parameters (a parameter node already in `g` under that name is
  // reused); other initializers (and all of them without `parameters`) are constants.
  // Returns one Value per output.
  // `input_values` may give the values of inputs that shape computations need at import
  // time (a Reshape's target, a Pad's pads, when the model takes them as inputs); the
  // graph still reads every input from its input node otherwise.
  std::vector<Value> build(Graph& g, std::span<const Value> inputs, TensorMap* parameters = nullptr,
                           const TensorMap* input_values = nullptr) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// A whole imported graph.
struct Imported {
  std::unique_ptr<Graph> graph;
  std::vector<Value> inputs, outputs;
  TensorMap parameters;  // initial values of the parameter nodes
};

// How initializers enter the graph: trainable parameters (floating ones; for training)
// or constants (for inference: shape computations on them fold at import time).
enum class Initializers { parameters, constants };

// The graph of `model` with input nodes named as the model's inputs; symbolic
// dimensions come from `shapes` (an input missing there with a symbolic dimension is a
// ValueError naming it).
Imported import_model(const Model& model, const InputShapes& shapes = {},
                      Initializers init = Initializers::parameters, const TensorMap* input_values = nullptr);
Imported import(const std::filesystem::path& path, const InputShapes& shapes = {},
                Initializers init = Initializers::parameters);
Imported import_from_memory(std::string_view bytes, const InputShapes& shapes = {},
                            Initializers init = Initializers::parameters);

}  // namespace dagrad::onnx
