// Random dataflow graphs for property tests: elementwise ops with broadcasting inputs,
// matmuls, reductions, views, scalar constants and in-place parameter updates.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/graph.h"
#include "ops/interpreter.h"

namespace dagrad::scheduler::testing {

struct RandomGraph {
  std::unique_ptr<Graph> graph;
  std::vector<Value> outputs;
  TensorMap inputs;  // bound per run
  TensorMap state;   // parameters, some updated in place by sgd_update nodes
};

RandomGraph make_random_graph(uint64_t seed, DType dtype = DType::f32);

}  // namespace dagrad::scheduler::testing
