// Memory planning: reuse, in-place outputs, views, the unplanned baseline, and the
// checker's view of overlapping lives.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler::testing {
namespace {

size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

int arena_buffers(const ExecutionPlan& p) {
  int n = 0;
  for (const Buffer& b : p.buffers) n += b.kind == Buffer::Kind::arena;
  return n;
}

TEST(Memory, ChainOfGemmsReusesTwoBuffers) {
  Graph g;
  Value x = g.input("x", Shape{16, 16});
  Value w = g.parameter("w", Shape{16, 16});
  Value h = x;
  for (int i = 0; i < 6; ++i) h = matmul(h, w);
  ExecutionPlan plan = compile(g, std::vector<Value>{h});
  EXPECT_PLAN_SAFE(plan);
  const size_t one = aligned(16 * 16 * 4);
  EXPECT_EQ(plan.unplanned_bytes, 6 * one);
  EXPECT_EQ(plan.arena_bytes, 2 * one);  // a GEMM's input and output are live together
  EXPECT_EQ(plan.arena_bytes, max_live_bytes(plan));

  CompileOptions off;
  off.plan_memory = false;
  ExecutionPlan base = compile(g, std::vector<Value>{h}, off);
  EXPECT_EQ(base.arena_bytes, 6 * one);
  for (const Buffer& a : base.buffers)
    for (const Buffer& b : base.buffers) {
      if (a.id >= b.id || a.kind != Buffer::Kind::arena || b.kind != Buffer::Kind::arena) continue;
      EXPECT_TRUE(a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset) << a.name << " " << b.name;
    }
}

TEST(Memory, ElementwiseChainRunsInPlace) {
  Graph g;
  Value x = g.input("x", Shape{10, 10});
  Value a = relu(x * 3.0);  // x itself is bound: the first op needs a buffer
  Value y = tanh(sigmoid(a));
  CompileOptions o;
  o.fuse = false;
  ExecutionPlan plan = compile(g, std::vector<Value>{y}, o);
  EXPECT_PLAN_SAFE(plan);
  // full (scalar) + mul's output; relu, sigmoid and tanh reuse mul's buffer.
  EXPECT_EQ(arena_buffers(plan), 2);
  EXPECT_EQ(plan.buffer_of(y), plan.buffer_of(a));
  TensorMap in{{"x", Tensor::full(Shape{10, 10}, -0.5)}};
  Executor ex(plan);
  EXPECT_TRUE(bit_equal(ex.run(in)[0], interpret(g, std::vector<Value>{y}, in)[0]));

  o.inplace = false;
  EXPECT_EQ(arena_buffers(compile(g, std::vector<Value>{y}, o)), 5);
}

TEST(Memory, NoInPlaceWhileTheInputIsStillNeeded) {
  Graph g;
  Value x = g.input("x", Shape{4, 4});
  Value a = relu(x * 2.0);
  Value b = tanh(a);  // a is read again below: b must not overwrite it
  Value c = a + b;    // a dies here: c may take its buffer
  CompileOptions o;
  o.fuse = false;
  ExecutionPlan plan = compile(g, std::vector<Value>{c}, o);
  EXPECT_PLAN_SAFE(plan);
  EXPECT_NE(plan.buffer_of(b), plan.buffer_of(a));
  EXPECT_EQ(plan.buffer_of(c), plan.buffer_of(a));
  TensorMap in{{"x", Tensor::full(Shape{4, 4}, 0.25)}};
  EXPECT_TRUE(bit_equal(Executor(plan).run(in)[0], interpret(g, std::vector<Value>{c}, in)[0]));
}

TEST(Memory, RequestedOutputsAreNeverOverwritten) {
  Graph g;
  Value x = g.input("x", Shape{4, 4});
  Value a = relu(x * 2.0);
  Value b = tanh(a);
  CompileOptions o;
  o.fuse = false;
  ExecutionPlan plan = compile(g, std::vector<Value>{a, b}, o);
  EXPECT_PLAN_SAFE(plan);
  EXPECT_NE(plan.buffer_of(a), plan.buffer_of(b));
  EXPECT_TRUE(plan.buffers[plan.buffer_of(a)].is_output);
  EXPECT_EQ(plan.buffers[plan.buffer_of(a)].last_use, static_cast<int>(plan.steps.size()));
}

TEST(Memory, ViewsAliasTheirInput) {
  Graph g;
  Value x = g.input("x", Shape{3, 4});
  Value w = g.input("w", Shape{4, 4});
  Value h = matmul(x, w);
  Value v = reshape(h, {12});
  Value y = exp(v);
  ExecutionPlan plan = compile(g, std::vector<Value>{y});
  EXPECT_PLAN_SAFE(plan);
  EXPECT_EQ(plan.buffer_of(v), plan.buffer_of(h));
  EXPECT_EQ(plan.step_of(v.node), -1);  // a view runs no kernel
  TensorMap in{{"x", Tensor::full(Shape{3, 4}, 0.5)}, {"w", Tensor::full(Shape{4, 4}, -0.25)}};
  EXPECT_TRUE(bit_equal(Executor(plan).run(in)[0], interpret(g, std::vector<Value>{y}, in)[0]));
}

TEST(Memory, CheckerCatchesOverlappingLiveBuffers) {
  Graph g;
  Value x = g.input("x", Shape{8, 8});
  Value a = matmul(x, x);
  Value b = matmul(a, x);
  ExecutionPlan plan = compile(g, std::vector<Value>{b});
  EXPECT_PLAN_SAFE(plan);
  int ba = plan.buffer_of(a), bb = plan.buffer_of(b);
  ASSERT_NE(plan.buffers[ba].offset, plan.buffers[bb].offset);
  plan.buffers[bb].offset = plan.buffers[ba].offset;
  expect_violation(plan, "share arena bytes while both live");
}

TEST(Memory, ReuseAcrossStreamsOnlyWhenOrdered) {
  // Two independent chains on two streams: a buffer of one chain must not be reused by
  // the other unless an event orders them.
  Graph g;
  Value x = g.input("x", Shape{16, 16});
  Value l = x, r = x;
  for (int i = 0; i < 4; ++i) {
    l = matmul(l, x);
    r = matmul(x, r);
  }
  Value y = l + r;
  CompileOptions o;
  o.num_streams = 2;
  ExecutionPlan plan = compile(g, std::vector<Value>{y}, o);
  EXPECT_PLAN_SAFE(plan);
  EXPECT_GE(plan.arena_bytes, max_live_bytes(plan));
  EXPECT_LE(plan.arena_bytes, plan.unplanned_bytes);
  TensorMap in{{"x", Tensor::full(Shape{16, 16}, 0.1)}};
  Executor ex(plan);
  EXPECT_TRUE(bit_equal(ex.run(in)[0], interpret(g, std::vector<Value>{y}, in)[0]));
}

}  // namespace
}  // namespace dagrad::scheduler::testing
