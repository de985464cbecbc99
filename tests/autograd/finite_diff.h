// The gradient-check harness of the tests: the graph of one op under a weighted loss
// (shared by the finite-difference check and the CUDA-against-CPU check), running a
// graph on copies of its bindings, perturbing one bound element, and comparing an
// autograd gradient with central differences.
#pragma once
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "ops/graph.h"
#include "ops/interpreter.h"
#include "ops/op_def.h"
#include "runtime/tensor.h"
#include "tests/ops/op_cases.h"

namespace dagrad::testing {

// Central differences in float64 with eps = 1e-6 and a tolerance of
// |autograd - fd| <= 1e-6 * (1 + |fd|). The truncation error is eps²/6·|f'''| ≈ 1e-13
// and the rounding error u·|L|/eps ≈ 1e-16·|L|/1e-6 = 1e-10·|L|; the test losses are
// O(1..100), so the difference itself is good to ~1e-8, leaving two orders of margin
// against kernels' own rounding, while a wrong rule (a missing factor, a transposed
// or unreduced gradient) is off by O(1).
inline constexpr double kFdEps = 1e-6;
inline constexpr double kFdTol = 1e-6;

// op_graph(def, c, in_f64) with the loss whose gradient the checks take:
// Σ_o sum(out_o · w_o) over the op's floating outputs (invalid when there is none), with
// fixed random weights w_o (graph inputs w0, w1, ...; float64 with in_f64, else the
// output's dtype) drawn with seed weight_seed + o, so every output element gets its own
// cotangent.
OpGraph op_gradient_graph(const OpDef& def, const OpCase& c, bool in_f64, uint64_t weight_seed);

// The inputs whose gradients a case checks: c.grad_inputs, or else every floating input
// that is not among def.nondiff_inputs.
std::vector<int> gradient_slots(const OpDef& def, const OpCase& c);

// Runs the graph on deep copies of `bindings` (ops that write inputs in place, such as
// batch_norm's running statistics, must not change them between runs).
std::vector<Tensor> run(const Graph& g, std::span<const Value> outputs, const TensorMap& bindings);
double run_scalar(const Graph& g, Value out, const TensorMap& bindings);

// (L(x + eps e_i) - L(x - eps e_i)) / 2 eps for element i of the float64 tensor bound to `name`.
double central_difference(const Graph& g, Value loss, const TensorMap& bindings, const std::string& name,
                          int64_t i, double eps = kFdEps);

// Every index when numel <= max_count, else max_count distinct indices drawn with `seed`
// (ascending), always including the first and the last element.
std::vector<int64_t> sample_indices(int64_t numel, int64_t max_count, uint64_t seed);

// Checks `analytic` (d loss / d bindings[name], any floating dtype) against central
// differences at `indices`; on failure names the worst element and its error.
::testing::AssertionResult matches_finite_differences(const Graph& g, Value loss, const TensorMap& bindings,
                                                      const std::string& name, const Tensor& analytic,
                                                      std::span<const int64_t> indices, double tol = kFdTol);

}  // namespace dagrad::testing
