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
  // integer tensors for integer outputs). Ops that write inputs in place may append the
  // expected new values of those inputs (OpDef::writes_inputs order) after the outputs.
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

// Maps an output coordinate to the flat index of a broadcast input of shape `in`.
int64_t broadcast_index(const Shape& out, const Shape& in, int64_t flat_out);

}  // namespace dagrad::testing
