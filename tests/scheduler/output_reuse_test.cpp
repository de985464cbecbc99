// The allocation-free run forms: Executor::run(inputs, step, outputs) and
// Session::run(inputs, outputs) reuse the caller's output tensors, never one that someone
// else still shares, and the session's shortcut to the last executor follows signature
// changes.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "runtime/allocator.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"
#include "scheduler/session.h"

namespace dagrad::scheduler::testing {
namespace {

TEST(OutputReuse, ExecutorWritesIntoTheCallersTensors) {
  Graph g;
  Value x = g.input("x", Shape{64, 64});
  Value y = sigmoid(relu(x) * x);
  Executor ex(compile(g, std::vector<Value>{y}));
  TensorMap a{{"x", Tensor::full(Shape{64, 64}, 0.5)}}, b{{"x", Tensor::full(Shape{64, 64}, -1.5)}};
  std::vector<Tensor> out;
  ex.run(a, 0, out);
  ASSERT_EQ(out.size(), 1u);
  const void* storage = out[0].raw_data();
  size_t before = cpu_allocator().stats().num_allocs;
  ex.run(b, 1, out);
  EXPECT_EQ(cpu_allocator().stats().num_allocs, before);  // no new output copy
  EXPECT_EQ(out[0].raw_data(), storage);
  EXPECT_TRUE(bit_equal(out[0], ex.run(b)[0]));  // the same values as a fresh copy
  EXPECT_EQ(ex.next_step(), 3u);
}

TEST(OutputReuse, ASharedTensorIsNeverOverwritten) {
  Graph g;
  Value x = g.input("x", Shape{3});
  Value y = tanh(x) + 1.0;
  Executor ex(compile(g, std::vector<Value>{y}));
  std::vector<Tensor> out;
  ex.run({{"x", Tensor::full(Shape{3}, 0.5)}}, 0, out);
  Tensor kept = out[0];  // the caller holds on to the first result
  Tensor snapshot = kept.clone();
  ex.run({{"x", Tensor::full(Shape{3}, -2.0)}}, 1, out);
  EXPECT_TRUE(bit_equal(kept, snapshot));
  EXPECT_FALSE(out[0].same_storage(kept));
  EXPECT_FALSE(bit_equal(out[0], kept));
}

TEST(OutputReuse, SessionFollowsSignatureChanges) {
  Session session([](Graph& g, const TensorMap& in) {
    Value x = g.input("x", in.at("x").shape());
    return std::vector<Value>{sum(x * 2.0)};
  });
  std::vector<Tensor> out;
  auto run = [&](int64_t n, double v) {
    session.run({{"x", Tensor::full(Shape{n}, v)}}, out);
    return out.at(0).data<float>()[0];
  };
  EXPECT_FLOAT_EQ(run(3, 1.0), 6.0f);
  EXPECT_FLOAT_EQ(run(5, 1.0), 10.0f);  // a new signature: compiled, not the last executor
  EXPECT_FLOAT_EQ(run(3, 2.0), 12.0f);
  EXPECT_FLOAT_EQ(run(3, 0.5), 3.0f);
  EXPECT_EQ(session.num_compiled(), 2u);
  EXPECT_EQ(session.next_step(), 4u);
  // A different dtype is a different signature too: compiled (then refused by the
  // float32 graph this builder makes), not run on the last executor.
  EXPECT_THROW(session.run({{"x", Tensor::full(Shape{3}, 1.0, DType::f64)}}, out), Error);
  EXPECT_EQ(session.num_compiled(), 3u);
}

}  // namespace
}  // namespace dagrad::scheduler::testing
