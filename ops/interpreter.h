// The plain interpreter: runs the nodes that the outputs need (and every node that
// writes its inputs in place, such as optimizer updates), one by one in topological
// order, each output in a fresh tensor. It is the reference every scheduled plan is
// checked against, and lets ops be tested without the scheduler.
#pragma once
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "ops/graph.h"
#include "runtime/tensor.h"

namespace dagrad {

// Tensors for the graph's input and parameter nodes, by node name. Parameters are
// updated in place by optimizer nodes, so the caller sees new values after a run.
using TensorMap = std::unordered_map<std::string, Tensor>;

// Checks that every input/parameter node in `ids` has a binding of the declared shape
// and dtype; throws ValueError/ShapeError naming the node.
void check_bindings(const Graph& g, std::span<const int> ids, const TensorMap& bindings);

// `step` numbers the run (seeds per-step randomness such as dropout masks).
std::vector<Tensor> interpret(const Graph& g, std::span<const Value> outputs, const TensorMap& bindings,
                              uint64_t step = 0);

}  // namespace dagrad
