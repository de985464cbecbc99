// Helpers of the CUDA tests: the skip rule, running a graph through the Executor on a
// device, and comparing tensors with a tolerance.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ops/graph.h"
#include "ops/interpreter.h"
#include "runtime/backend.h"
#include "scheduler/compile_options.h"

// Skips the test, saying why, when no CUDA device is usable.
#define REQUIRE_CUDA_DEVICE() \
  if (!::dagrad::cuda_available()) GTEST_SKIP() << ::dagrad::cuda_unavailable_reason()

namespace dagrad::cuda_testing {

// Every pass off: one kernel per node, one stream, a buffer per value.
scheduler::CompileOptions plain_options();

struct RunResult {
  std::vector<Tensor> outputs;  // on the host
  TensorMap bindings;           // every binding after the run (in-place updates), on the host
};

// Compiles `outputs` of `g` with `options` and runs it once (run step `step`) on
// `device`, on fresh device copies of `bindings` (input nodes passed to run(), the
// rest bound as state).
RunResult run_graph(Graph& g, const std::vector<Value>& outputs, const TensorMap& bindings, Device device,
                    const scheduler::CompileOptions& options, uint64_t step = 0);

// |got - want| <= tol·(1 + |want|) elementwise, same shape and dtype; the failure names
// the worst element.
::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, double tol);

// The tolerance for comparing the CUDA backend with the CPU on `dtype`: the summation
// order differs (GEMMs, reductions), and device math functions may differ from glibc's
// by an ulp or two.
double device_tolerance(DType dtype, double case_tol = 0);

}  // namespace dagrad::cuda_testing
