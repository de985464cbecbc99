// Every op of the registry, and its gradient, on the CUDA backend against the CPU
// backend, over the reference-case table of tests/ops (random inputs, edge-case shapes,
// float32 and float64). The coverage test runs everywhere; the rest needs a GPU.
#include <gtest/gtest.h>

#include <algorithm>

#include "autograd/grad.h"
#include "cuda_test_util.h"
#include "finite_diff.h"
#include "op_cases.h"
#include "comm/collective_ops.h"
#include "ops/kernel_table.h"
#include "ops/math_mode.h"
#include "ops/ops.h"
#include "ops/registry.h"

using namespace dagrad;
using namespace dagrad::testing;
using namespace dagrad::cuda_testing;

namespace {

// Outputs, and inputs written in place, on both backends.
void check_forward(const OpDef& def, const OpCase& c) {
  OpGraph og = op_graph(def, c);
  const Node& n = og.op_node();
  const std::vector<Value> outs = og.outputs();
  const uint64_t step = 5;  // dropout: a step other than 0
  RunResult cpu = run_graph(*og.graph, outs, og.bindings, Device::cpu(), plain_options(), step);
  RunResult gpu = run_graph(*og.graph, outs, og.bindings, Device::cuda(0), plain_options(), step);
  ASSERT_EQ(gpu.outputs.size(), cpu.outputs.size());
  for (size_t o = 0; o < cpu.outputs.size(); ++o)
    EXPECT_TRUE(all_close(gpu.outputs[o], cpu.outputs[o], device_tolerance(n.outputs[o].dtype, c.tol)))
        << def.name << " [" << c.label << "] output " << o;
  for (int slot : def.writes_inputs) {
    if (slot >= static_cast<int>(c.inputs.size())) continue;
    const std::string name = str_cat("in", slot);
    EXPECT_TRUE(all_close(gpu.bindings.at(name), cpu.bindings.at(name),
                          device_tolerance(c.inputs[slot].dtype(), c.tol)))
        << def.name << " [" << c.label << "] input " << slot << " written in place";
  }
}

// The backward graph (the vjp rules' ops) on both backends: loss = Σ_o sum(out_o · w_o).
void check_gradient(const OpDef& def, const OpCase& c) {
  if (!def.vjp || c.skip_grad) return;
  OpGraph og = op_gradient_graph(def, c, /*in_f64=*/false, /*weight_seed=*/9100);
  if (!og.loss.valid()) return;
  const std::vector<int> slots = gradient_slots(def, c);
  if (slots.empty()) return;
  std::vector<Value> wrt;
  for (int s : slots) wrt.push_back(og.inputs[s]);
  Graph& g = *og.graph;
  std::vector<Value> grads = autograd::grad(g, og.loss, wrt);
  RunResult cpu = run_graph(g, grads, og.bindings, Device::cpu(), plain_options(), 5);
  RunResult gpu = run_graph(g, grads, og.bindings, Device::cuda(0), plain_options(), 5);
  for (size_t k = 0; k < grads.size(); ++k)
    EXPECT_TRUE(all_close(gpu.outputs[k], cpu.outputs[k], device_tolerance(grads[k].dtype(), c.tol)))
        << def.name << " [" << c.label << "] gradient of input " << slots[k];
}

std::vector<std::string> ops_with_cases() {
  std::vector<std::string> names;
  for (const auto& [name, _] : op_case_table()) names.push_back(name);
  return names;
}

}  // namespace

// Runs without a GPU: a missing kernel is a test failure, not a surprise at run time.
TEST(CudaOps, EveryOpHasACudaKernel) {
  comm::allreduce_mean_op();  // the collectives live above ops/
  std::string missing;
  for (const OpDef* d : OpRegistry::instance().all())
    if (!d->flags.bound() && !kernel_table(DeviceType::cuda).supports(*d)) missing += d->name + " ";
  EXPECT_TRUE(missing.empty()) << "ops without a CUDA kernel: " << missing;
}

class CudaOpTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaOpTest, MatchesCpu) {
  REQUIRE_CUDA_DEVICE();
  const OpDef& def = op_def(GetParam());
  for (CaseGenerator gen : op_case_table().at(GetParam()))
    for (const OpCase& c : gen()) {
      SCOPED_TRACE(c.label);
      check_forward(def, c);
    }
}

TEST_P(CudaOpTest, GradientMatchesCpu) {
  REQUIRE_CUDA_DEVICE();
  const OpDef& def = op_def(GetParam());
  if (!def.vjp) GTEST_SKIP() << def.name << " has no gradient";
  for (CaseGenerator gen : op_case_table().at(GetParam()))
    for (const OpCase& c : gen()) {
      SCOPED_TRACE(c.label);
      check_gradient(def, c);
    }
}

INSTANTIATE_TEST_SUITE_P(AllOps, CudaOpTest, ::testing::ValuesIn(ops_with_cases()),
                         [](const auto& info) { return info.param; });

// The same step gives the same dropout mask on both backends (and the mask changes
// with the step), for lengths that are and are not multiples of Philox's 4 lanes.
TEST(CudaOps, DropoutMaskEqualsCpu) {
  REQUIRE_CUDA_DEVICE();
  for (int64_t len : {1, 4, 1001, 65536 + 3}) {
    Graph g;
    Value x = g.input("x", Shape{len});
    Value y = dropout(x, 0.4, 77);
    TensorMap b{{"x", Tensor::full(Shape{len}, 1.0)}};
    for (uint64_t step : {0u, 1u, 12345u}) {
      RunResult cpu = run_graph(g, {y}, b, Device::cpu(), plain_options(), step);
      RunResult gpu = run_graph(g, {y}, b, Device::cuda(0), plain_options(), step);
      EXPECT_TRUE(all_close(gpu.outputs[0], cpu.outputs[0], 0)) << "length " << len << " step " << step;
    }
  }
}

// Larger shapes than the reference cases: reductions split into chunks, convolutions
// of a whole MNIST batch.
TEST(CudaOps, LargeShapesMatchCpu) {
  REQUIRE_CUDA_DEVICE();
  Graph g;
  Value x = g.input("x", Shape{64, 32, 26, 26});
  Value w = g.input("w", Shape{64, 32, 3, 3});
  Value b = g.input("b", Shape{64});
  Value y = conv2d(x, w, b);
  std::vector<Value> outs{y, sum(y), sum(y, {0, 2, 3}), mean(y, {1}), max(y, {3}), softmax(y, 1),
                          max_pool2d(y, {.kernel = 2})};
  TensorMap bind{{"x", random_tensor(Shape{64, 32, 26, 26}, DType::f32, 1)},
                 {"w", random_tensor(Shape{64, 32, 3, 3}, DType::f32, 2, -0.1, 0.1)},
                 {"b", random_tensor(Shape{64}, DType::f32, 3)}};
  std::vector<Value> grads = autograd::grad(g, sum(mul(y, y)), std::vector<Value>{x, w, b});
  outs.insert(outs.end(), grads.begin(), grads.end());
  RunResult cpu = run_graph(g, outs, bind, Device::cpu(), scheduler::CompileOptions{});
  RunResult gpu = run_graph(g, outs, bind, Device::cuda(0), scheduler::CompileOptions{});
  for (size_t i = 0; i < outs.size(); ++i)
    EXPECT_TRUE(all_close(gpu.outputs[i], cpu.outputs[i], 1e-3)) << "output " << i;
}

// TF32 is opt-in: off, a float32 GEMM on the GPU matches the CPU to float32 summation
// error; on, inputs lose 13 of their 23 mantissa bits (2^-11 relative each), so results
// move by about 1e-3 of their size, more than float32 ever does, and less than 1e-2.
TEST(CudaOps, Tf32IsOptIn) {
  REQUIRE_CUDA_DEVICE();
  Graph g;
  Value a = g.input("a", Shape{128, 512}), b = g.input("b", Shape{512, 96});
  Value c = matmul(a, b);
  TensorMap bind{{"a", random_tensor(Shape{128, 512}, DType::f32, 11)}, {"b", random_tensor(Shape{512, 96}, DType::f32, 12)}};
  RunResult cpu = run_graph(g, {c}, bind, Device::cpu(), plain_options());
  ASSERT_FALSE(tf32_allowed());
  RunResult exact = run_graph(g, {c}, bind, Device::cuda(0), plain_options());
  set_tf32_allowed(true);
  RunResult fast = run_graph(g, {c}, bind, Device::cuda(0), plain_options());
  set_tf32_allowed(false);
  EXPECT_TRUE(all_close(exact.outputs[0], cpu.outputs[0], 1e-5));
  EXPECT_TRUE(all_close(fast.outputs[0], cpu.outputs[0], 1e-2));
  EXPECT_FALSE(all_close(fast.outputs[0], cpu.outputs[0], 1e-5)) << "TF32 did not change the result";
}
