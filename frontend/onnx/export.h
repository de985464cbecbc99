// dagrad graphs out to ONNX: the nodes that compute `outputs` become an ONNX model (opset
// 13, or 17 when a layer norm needs it) that importing gives back, and that ONNX's checker
// accepts. Inputs stay inputs (with the graph's static shapes), parameters become
// initializers (named as in the graph, values from `values`), constants initializers.
// Ops without an ONNX form (training-only ops: losses' gradients, optimizer updates,
// dropout in training mode) are an UnsupportedError naming the node.
#pragma once
#include <filesystem>
#include <span>
#include <string>

#include "frontend/onnx/errors.h"
#include "ops/graph.h"
#include "ops/interpreter.h"

namespace dagrad::onnx {

struct ExportOptions {
  std::string graph_name = "dagrad";
  std::vector<std::string> output_names;  // default: output0, output1, ...
};

// The serialised ModelProto.
std::string export_to_bytes(const Graph& g, std::span<const Value> outputs, const TensorMap& values,
                            const ExportOptions& opt = {});
// Written atomically to `path`, after ONNX's checker (onnx::checker::check_model) accepted it.
void export_model(const Graph& g, std::span<const Value> outputs, const TensorMap& values,
                  const std::filesystem::path& path, const ExportOptions& opt = {});

// ONNX's own checker on a serialised model: "" when it passes, else its message.
std::string check_with_onnx(const std::string& bytes);

}  // namespace dagrad::onnx
