// --check-numerics: after every step, look for NaN or Inf in what the step wrote and
// stop at the first one, naming the node, its op, the user's source line and the run.
#pragma once
#include <span>

#include "ops/graph.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

namespace dagrad {

class NumericsError : public Error {
  using Error::Error;
};

namespace scheduler {

// Index of the first NaN/Inf element of a floating tensor (any device), or -1.
int64_t first_non_finite(const Tensor& t);

// Throws NumericsError when an output holds NaN/Inf. `nodes` are the step's nodes (one
// node, or a fused group's members: then the group is named).
void check_step_outputs(const Graph& g, std::span<const int> nodes, std::span<const Tensor> outputs, uint64_t step);

}  // namespace scheduler
}  // namespace dagrad
