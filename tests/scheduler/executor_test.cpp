// Executor: persistent state and in-place updates across runs, per-run inputs, output
// copies, the step counter, clear binding errors, kernel errors, and Session's cache.
#include "scheduler/executor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "ops/kernel_table.h"
#include "ops/registry.h"
#include "runtime/allocator.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/session.h"
#include "tests/error_of.h"

namespace dagrad::scheduler::testing {
namespace {

Tensor values(const Shape& s, std::vector<float> v) { return Tensor::from_vector(s, v); }

using dagrad::testing::expect_error;

TEST(Executor, ParametersPersistAndInPlaceUpdatesAreVisible) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value lr = g.input("lr", Shape{});
  Value w = g.parameter("w", Shape{2, 3});
  Value loss = sum(x * w);
  sgd_update(w, x, lr, Value{}, SgdOptions{});  // dloss/dw = x
  std::vector<Value> outs{loss};

  Tensor w_ref = values(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor w_mine = w_ref.clone();
  TensorMap in{{"x", values(Shape{2, 3}, {0.5f, -1, 2, 0.25f, 1, -0.5f})}, {"lr", Tensor::full(Shape{}, 0.5)}};
  for (int streams : {1, 3}) {
    CompileOptions o;
    o.num_streams = streams;
    Executor ex(compile(g, outs, o));
    ex.bind("w", w_mine);
    for (int run = 0; run < 3; ++run) {
      std::vector<Tensor> want = interpret(g, outs, merged(in, {{"w", w_ref}}));
      std::vector<Tensor> got = ex.run(in);
      EXPECT_TRUE(bit_equal(got[0], want[0])) << "run " << run;
      EXPECT_TRUE(bit_equal(w_mine, w_ref)) << "run " << run << ": " << w_mine.to_string();
    }
  }
  EXPECT_FLOAT_EQ(w_mine.data<float>()[0], 1 - 6 * 0.5f * 0.5f);
}

TEST(Executor, ReadsThroughViewsFollowProgramOrderAroundAnUpdate) {
  Graph g;
  Value p = g.parameter("p", Shape{2, 3});
  Value grad = g.input("grad", Shape{2, 3});
  Value lr = g.input("lr", Shape{});
  Value flat = reshape(p, {6});
  Value before = exp(flat);  // built before the update: sees the old p
  sgd_update(p, grad, lr, Value{}, SgdOptions{});
  Value after = flat * 2.0;  // built after it: sees the new p
  std::vector<Value> outs{before, after};
  std::vector<float> p0{1, 2, 3, 4, 5, 6}, gr{1, 1, 2, 2, 3, 3};
  TensorMap in{{"grad", values(Shape{2, 3}, gr)}, {"lr", Tensor::full(Shape{}, 0.25)}};
  for (int streams : {1, 2, 4}) {
    CompileOptions o;
    o.num_streams = streams;
    ExecutionPlan plan = compile(g, outs, o);
    EXPECT_PLAN_SAFE(plan);
    Tensor pt = values(Shape{2, 3}, p0);
    Executor ex(plan);
    ex.bind("p", pt);
    std::vector<Tensor> got = ex.run(in);
    for (int i = 0; i < 6; ++i) {
      float updated = p0[i] - 0.25f * gr[i];
      EXPECT_FLOAT_EQ(got[0].data<float>()[i], std::exp(p0[i])) << streams << " streams";
      EXPECT_FLOAT_EQ(got[1].data<float>()[i], updated * 2) << streams << " streams";
    }
  }
}

TEST(Executor, OutputsAreCopiesThatLaterRunsLeaveAlone) {
  Graph g;
  Value x = g.input("x", Shape{3});
  Value y = tanh(x) + 1.0;
  Executor ex(compile(g, std::vector<Value>{y}));
  Tensor first = ex.run({{"x", Tensor::full(Shape{3}, 0.5)}})[0];
  Tensor snapshot = first.clone();
  Tensor second = ex.run({{"x", Tensor::full(Shape{3}, -2.0)}})[0];
  EXPECT_TRUE(bit_equal(first, snapshot));
  EXPECT_FALSE(bit_equal(first, second));
}

TEST(Executor, ArenaIsAllocatedOnce) {
  Graph g;
  Value x = g.input("x", Shape{64, 64});
  Value y = sigmoid(relu(x) * x);
  Executor ex(compile(g, std::vector<Value>{y}));
  TensorMap in{{"x", Tensor::full(Shape{64, 64}, 0.5)}};
  ex.run(in);
  size_t before = cpu_allocator().stats().num_allocs;
  ex.run(in);
  EXPECT_EQ(cpu_allocator().stats().num_allocs - before, 1u);  // the output's copy only
}

TEST(Executor, StepCounterSeedsRandomOps) {
  Graph g;
  Value x = g.input("x", Shape{64});
  Value y = dropout(x, 0.5, 7);
  std::vector<Value> outs{y};
  TensorMap in{{"x", Tensor::full(Shape{64}, 1.0)}};
  Executor ex(compile(g, outs));
  ex.set_next_step(5);
  Tensor a = ex.run(in)[0];
  EXPECT_EQ(ex.next_step(), 6u);
  Tensor b = ex.run(in)[0];
  EXPECT_TRUE(bit_equal(a, interpret(g, outs, in, 5)[0]));
  EXPECT_TRUE(bit_equal(b, interpret(g, outs, in, 6)[0]));
  EXPECT_FALSE(bit_equal(a, b));
  EXPECT_TRUE(bit_equal(ex.run(in, 5)[0], a));
}

TEST(Executor, BindingErrorsAreClear) {
  Graph g;
  Value x = g.input("x", Shape{2, 4});
  Value w = g.parameter("w", Shape{4});
  Value y = x * w;
  Executor ex(compile(g, std::vector<Value>{y}));
  expect_error<ValueError>(
      [&] {
        ex.run({{"x", Tensor::zeros(Shape{2, 4})}});
      },
      "[parameter] no tensor bound for 'w' (expected [4] float32); bind() it");
  ex.bind("w", Tensor::zeros(Shape{4}));
  expect_error<ValueError>([&] { ex.run(); },
                           "[input] no tensor bound for 'x' (expected [2,4] float32); pass it to run()");
  expect_error<ShapeError>(
      [&] {
        ex.run({{"x", Tensor::zeros(Shape{3, 4})}});
      },
      "[input] tensor bound for 'x' is [3,4] float32 but the graph expects [2,4] float32");
  expect_error<ShapeError>(
      [&] {
        ex.run({{"x", Tensor::zeros(Shape{2, 4}, DType::f64)}});
      },
      "is [2,4] float64 but the graph expects [2,4] float32");
  expect_error<ValueError>(
      [&] {
        ex.run({{"x", Tensor::zeros(Shape{2, 4})}, {"z", Tensor::zeros(Shape{1})}});
      },
      "[executor] the graph has no input or parameter named 'z'");
  expect_error<ValueError>([&] { ex.bind("nope", Tensor::zeros(Shape{1})); }, "named 'nope'");
  EXPECT_EQ(ex.run({{"x", Tensor::zeros(Shape{2, 4})}})[0].shape(), (Shape{2, 4}));
}

// A test-only op whose kernel fails, to see errors cross the stream boundary.
const OpDef& failing_op() {
  static const OpDef& def = []() -> const OpDef& {
    const OpDef& d = OpRegistry::instance().add(
        {.name = "scheduler_test_fail",
         .infer = [](const InferContext& c) { return std::vector<TensorType>{c.inputs[0]}; },
         .doc = "fails on purpose (scheduler tests)"});
    mutable_kernel_table(DeviceType::cpu).set(d, [](const KernelContext& ctx) {
      throw ValueError(str_cat("[scheduler_test_fail] refused ", ctx.node.name));
    });
    return d;
  }();
  return def;
}

TEST(Executor, KernelErrorsAreRethrownAfterEveryStreamStops) {
  Graph g;
  Value x = g.input("x", Shape{8, 8});
  Value a = matmul(x, x);
  int bad = g.add_node(failing_op(), {relu(x)}, {}, "bad", std::source_location::current());
  Value y = a + Value{&g, bad, 0};
  CompileOptions o;
  o.num_streams = 2;
  Executor ex(compile(g, std::vector<Value>{y}, o));
  TensorMap in{{"x", Tensor::full(Shape{8, 8}, 1.0)}};
  for (int run = 0; run < 2; ++run) expect_error<ValueError>([&] { ex.run(in); }, "[scheduler_test_fail] refused bad");
}

TEST(Session, CompilesOncePerInputSignatureAndSharesState) {
  int builds = 0;
  Session session([&](Graph& g, const TensorMap& in) {
    ++builds;
    Value x = g.input("x", in.at("x").shape());
    Value lr = g.input("lr", Shape{});
    Value w = g.parameter("w", Shape{3, 2});
    Value y = matmul(x, w);
    sgd_update(w, full_like(w, 1.0), lr, Value{}, SgdOptions{});
    return std::vector<Value>{sum(y)};
  });
  Tensor w = Tensor::full(Shape{3, 2}, 1.0);
  session.bind("w", w);
  Tensor lr = Tensor::full(Shape{}, 0.25);
  auto batch = [&](int64_t n) { return TensorMap{{"x", Tensor::full(Shape{n, 3}, 1.0)}, {"lr", lr}}; };
  // Each run reads w before its update: sum(x · w) = n * 3 * 2 * w.
  EXPECT_FLOAT_EQ(session.run(batch(4))[0].data<float>()[0], 4 * 6 * 1.0f);
  EXPECT_FLOAT_EQ(session.run(batch(4))[0].data<float>()[0], 4 * 6 * 0.75f);
  EXPECT_FLOAT_EQ(session.run(batch(3))[0].data<float>()[0], 3 * 6 * 0.5f);
  EXPECT_FLOAT_EQ(session.run(batch(4))[0].data<float>()[0], 4 * 6 * 0.25f);
  EXPECT_EQ(builds, 2);
  EXPECT_EQ(session.num_compiled(), 2u);
  EXPECT_EQ(session.next_step(), 4u);
  EXPECT_FLOAT_EQ(w.data<float>()[0], 0.0f);
}

}  // namespace
}  // namespace dagrad::scheduler::testing
