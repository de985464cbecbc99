// The generic op test table. Every registered op (except the bound sources) must have
// cases here: the reference test fails for an op without them, and the gradient test
// reuses them for finite differences. A family's test file registers its cases with
// DAGRAD_OP_CASES(op) { return {...}; }.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops/attrs.h"
#include "ops/graph.h"
#include "ops/interpreter.h"  // TensorMap
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace dagrad::testing {

struct OpCase {
  std::string label;           // "broadcast [2,3]+[3]"
  std::vector<Tensor> inputs;  // random, non-zero; float inputs in f32 or f64
  Attrs attrs;
  // For ops whose parameters their builder supplies (ParamCodec without decode): the
  // node's parameter struct.
  std::shared_ptr<const void> params;
  // Expected outputs computed with plain loops in double (returned as f64 tensors, or
  // integer tensors for integer outputs), followed, for ops that write inputs in place,
  // by the expected new values of those inputs (OpDef::writes_inputs order; an optional
  // input the case leaves out has none). The reference test checks all of them.
  std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const Attrs& attrs)> reference;
  double tol = 1e-5;  // max |got - want| / (1 + |want|)
  // Gradient check: which inputs to differentiate (empty: every floating input not in
  // the op's nondiff_inputs). Ops whose derivative has kinks (relu at 0, max ties) use
  // inputs that stay away from them.
  std::vector<int> grad_inputs;
  bool skip_grad = false;  // e.g. random ops whose output is not a smooth function
};

using CaseGenerator = std::vector<OpCase> (*)();
std::map<std::string, std::vector<CaseGenerator>>& op_case_table();

struct CaseRegistrar {
  CaseRegistrar(const char* op, CaseGenerator gen) { op_case_table()[op].push_back(gen); }
};

#define DAGRAD_CASES_CAT2(a, b) a##b
#define DAGRAD_CASES_CAT(a, b) DAGRAD_CASES_CAT2(a, b)
#define DAGRAD_OP_CASES(op)                                                                   \
  static std::vector<::dagrad::testing::OpCase> DAGRAD_CASES_CAT(op_cases_, __LINE__)();      \
  static ::dagrad::testing::CaseRegistrar DAGRAD_CASES_CAT(op_cases_reg_, __LINE__)(          \
      op, &DAGRAD_CASES_CAT(op_cases_, __LINE__));                                            \
  static std::vector<::dagrad::testing::OpCase> DAGRAD_CASES_CAT(op_cases_, __LINE__)()

// Helpers for writing cases.
// Uniform in [lo, hi) with a fixed seed per call site; `avoid_zero` pushes values out of
// (-0.05, 0.05) so kinks and divisions stay safe.
Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo = -1.0, double hi = 1.0,
                     bool avoid_zero = true);
Tensor random_labels(int64_t n, int64_t classes, uint64_t seed);  // int64 in [0, classes)
// Reads element i of a floating or integer tensor as double.
double at(const Tensor& t, int64_t i);
// New f64 tensor of `shape`, filled by f(flat_index).
Tensor make_f64(const Shape& shape, const std::function<double(int64_t)>& f);

// float64 copy of a floating tensor; other dtypes unchanged.
Tensor to_f64(const Tensor& t);

// One op applied to a case's inputs, which are bound as the graph inputs in0, in1, ...
// (as float64 copies of the floating ones with in_f64). The generic tests (reference,
// gradients, CUDA against CPU) all build their graph this way.
struct OpGraph {
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();
  std::vector<Value> inputs;
  int node = -1;
  TensorMap bindings;
  Value loss;  // the gradient checks' loss (op_gradient_graph in tests/autograd/finite_diff.h)

  const Node& op_node() const { return graph->node(node); }
  std::vector<Value> outputs() const;  // the op's outputs, in order
};
OpGraph op_graph(const OpDef& def, const OpCase& c, bool in_f64 = false);
// Every op with a per-element form and the cases of its first case generator (a test
// failure for such an op without cases): what the fusion and code-generation tests run.
std::vector<std::pair<const OpDef*, std::vector<OpCase>>> elementwise_op_cases();
// Deep copies of `bindings`, for a run that must not change them (ops that write inputs).
TensorMap deep_copy(const TensorMap& bindings);

// Runs the graph's outputs with 1, 2, 3 and 5 threads: every run must match the first
// bit for bit (kernels split their work by shape alone).
void expect_same_for_thread_counts(const Graph& g, const std::vector<Value>& outs, const TensorMap& bind);

// Convolution and pooling geometry: the output size along one dimension, and attributes
// of (height, width) pairs: hw_attrs({{"stride", 2, 1}, {"padding", 0, 1}}).
inline int64_t window_output(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation = 1) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}
struct HwAttr {
  const char* name;
  int64_t h, w;
};
Attrs hw_attrs(std::initializer_list<HwAttr> attrs);

// Maps an output coordinate to the flat index of a broadcast input of shape `in`.
int64_t broadcast_index(const Shape& out, const Shape& in, int64_t flat_out);

}  // namespace dagrad::testing
