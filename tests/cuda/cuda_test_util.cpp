#include "cuda_test_util.h"

#include <algorithm>
#include <cmath>

#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::cuda_testing {

scheduler::CompileOptions plain_options() {
  scheduler::CompileOptions o;
  o.fuse = false;
  o.fuse_epilogues = false;
  o.num_streams = 1;
  o.plan_memory = false;
  o.inplace = false;
  o.reorder_for_memory = false;
  return o;
}

RunResult run_graph(Graph& g, const std::vector<Value>& outputs, const TensorMap& bindings, Device device,
                    const scheduler::CompileOptions& options, uint64_t step) {
  scheduler::Executor ex(scheduler::compile(g, outputs, options), backend_for(device));
  TensorMap inputs, state;
  for (const auto& [name, t] : bindings) {
    Tensor copy = device.is_cpu() ? t.clone() : t.to(device);
    (g.node(name).op_name() == "input" ? inputs : state)[name] = copy;
  }
  ex.bind(state);
  RunResult r;
  for (const Tensor& t : ex.run(inputs, step)) r.outputs.push_back(t.to(Device::cpu()));
  for (const TensorMap* m : {&inputs, &state})
    for (const auto& [name, t] : *m) r.bindings[name] = t.to(Device::cpu());
  return r;
}

::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, double tol) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << "got " << got.shape().to_string() << " " << dtype_name(got.dtype())
                                         << ", want " << want.shape().to_string() << " " << dtype_name(want.dtype());
  double worst = 0;
  int64_t at = -1;
  double gv = 0, wv = 0;
  dispatch_all(got.dtype(), [&]<class T>() {
    const T* g = got.data<T>();
    const T* w = want.data<T>();
    for (int64_t i = 0; i < got.numel(); ++i) {
      const double a = static_cast<double>(g[i]), b = static_cast<double>(w[i]);
      if (std::isnan(a) && std::isnan(b)) continue;
      const double err = std::isnan(a) || std::isnan(b) ? INFINITY : std::abs(a - b) / (1 + std::abs(b));
      if (err > worst || (at < 0 && err > tol)) worst = err, at = i, gv = a, wv = b;
    }
  });
  if (worst <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << at << " of " << got.shape().to_string() << ": got " << gv
                                       << ", want " << wv << " (relative error " << worst << " > " << tol << ")";
}

// float32 math may differ between the backends in the last bits (CUDA's expf, another
// summation order), which can move a 16-bit result by one of its own units in the last
// place: 2^-7 relative for bfloat16, 2^-10 for float16.
double device_tolerance(DType dtype, double case_tol) {
  if (dtype == DType::bf16) return std::max(case_tol, 1.0 / 128);
  if (dtype == DType::f16) return std::max(case_tol, 1.0 / 1024);
  return std::max(case_tol, dtype == DType::f64 ? 1e-10 : 2e-4);
}

}  // namespace dagrad::cuda_testing
