// The scheduler's plans on the CUDA backend: for random graphs, every combination of
// fusion (NVRTC kernels), epilogues, streams (events between CUDA streams) and memory
// planning gives the plain plan's results, and the plain CUDA plan gives the CPU's.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "random_graph.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

using namespace dagrad;
using namespace dagrad::cuda_testing;

namespace {

TensorMap merged(const TensorMap& a, const TensorMap& b) {
  TensorMap out = a;
  for (const auto& [k, t] : b) out[k] = t;
  return out;
}

}  // namespace

TEST(CudaPlans, RandomGraphsMatchThePlainPlan) {
  REQUIRE_CUDA_DEVICE();
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const DType dtype = seed % 4 == 3 ? DType::f64 : DType::f32;
    SCOPED_TRACE(str_cat("seed ", seed, " ", dtype_name(dtype)));
    scheduler::testing::RandomGraph rg = scheduler::testing::make_random_graph(seed, dtype);
    const TensorMap bindings = merged(rg.inputs, rg.state);
    RunResult cpu = run_graph(*rg.graph, rg.outputs, bindings, Device::cpu(), plain_options(), 3);
    RunResult plain = run_graph(*rg.graph, rg.outputs, bindings, Device::cuda(0), plain_options(), 3);
    for (size_t i = 0; i < cpu.outputs.size(); ++i)
      EXPECT_TRUE(all_close(plain.outputs[i], cpu.outputs[i], device_tolerance(dtype))) << "output " << i;
    for (const auto& [name, t] : cpu.bindings)
      EXPECT_TRUE(all_close(plain.bindings.at(name), t, device_tolerance(dtype))) << name << " after the run";

    for (int f = 0; f < 3; ++f)
      for (int streams : {1, 2, 4})
        for (bool plan_memory : {false, true}) {
          scheduler::CompileOptions opt;
          opt.fuse = f > 0;
          opt.fuse_epilogues = f > 1;
          opt.num_streams = streams;
          opt.plan_memory = plan_memory;
          SCOPED_TRACE(str_cat("fuse=", opt.fuse, " epilogues=", opt.fuse_epilogues, " streams=", streams,
                               " plan_memory=", plan_memory));
          RunResult got = run_graph(*rg.graph, rg.outputs, bindings, Device::cuda(0), opt, 3);
          // The same kernels or the same functors without contraction (--fmad=false in
          // both nvcc and NVRTC): equal up to cuBLAS's choice of algorithm per stream.
          const double tol = dtype == DType::f64 ? 1e-12 : 1e-6;
          for (size_t i = 0; i < plain.outputs.size(); ++i)
            EXPECT_TRUE(all_close(got.outputs[i], plain.outputs[i], tol)) << "output " << i;
          for (const auto& [name, t] : plain.bindings)
            EXPECT_TRUE(all_close(got.bindings.at(name), t, tol)) << name << " after the run";
        }
  }
}

// One executor, several runs: parameters updated in place stay on the device and each
// run sees the previous run's updates, as on the CPU.
TEST(CudaPlans, RepeatedRunsUpdateStateInPlace) {
  REQUIRE_CUDA_DEVICE();
  scheduler::testing::RandomGraph rg = scheduler::testing::make_random_graph(7, DType::f32);
  scheduler::CompileOptions opt;
  opt.num_streams = 2;
  std::vector<std::vector<Tensor>> outputs[2];
  TensorMap state[2];
  for (int dev = 0; dev < 2; ++dev) {
    const Device device = dev ? Device::cuda(0) : Device::cpu();
    scheduler::Executor ex(scheduler::compile(*rg.graph, rg.outputs, opt), backend_for(device));
    for (const auto& [name, t] : rg.state) state[dev][name] = t.to(device).clone();
    ex.bind(state[dev]);
    for (int run = 0; run < 3; ++run) {
      std::vector<Tensor> host;
      for (const Tensor& t : ex.run(rg.inputs)) host.push_back(t.to(Device::cpu()));
      outputs[dev].push_back(std::move(host));
    }
  }
  for (int run = 0; run < 3; ++run)
    for (size_t i = 0; i < outputs[0][run].size(); ++i)
      EXPECT_TRUE(all_close(outputs[1][run][i], outputs[0][run][i], device_tolerance(DType::f32)))
          << "run " << run << " output " << i;
  for (const auto& [name, t] : state[0])
    EXPECT_TRUE(all_close(state[1].at(name).to(Device::cpu()), t, device_tolerance(DType::f32))) << name;
}
