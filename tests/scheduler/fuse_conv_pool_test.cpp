// The fuse_conv_pool rewrite on small graphs: which poolings of a convolution fuse, which
// stay, that the fused op gives the two ops' bits on every CPU path (several chunks of
// images, float32, float64 and bfloat16 operands), and that the replaced convolution no
// longer orders before the parameters' in-place updates. Training with and without it is
// compared in tests/frontend/fuse_conv_pool_training_test.cpp.
#include "scheduler/fuse_conv_pool.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ops/builtin_ops.h"
#include "ops/cpu/amx.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/interpreter.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "runtime/rng.h"
#include "sched_test_util.h"

using namespace dagrad;
using dagrad::scheduler::testing::bit_equal;

namespace {

struct ConvPool {
  Value x, w, b, conv, pooled, argmax;
};

// max_pool2d(conv2d(x, w, b)) with x [shape], w [o, c, 3, 3] and operands of `dtype` (the
// bias float32 for 16-bit operands).
ConvPool conv_pool(Graph& g, const Shape& x_shape, int64_t o, DType dtype, Conv2dOptions conv = {.padding = 1},
                   Pool2dOptions pool = {.kernel = 2}) {
  ConvPool p;
  p.x = g.input("x", x_shape, dtype);
  p.w = g.input("w", Shape{o, x_shape[1], 3, 3}, dtype);
  p.b = g.input("b", Shape{o}, is_half(dtype) ? DType::f32 : dtype);
  p.conv = conv2d(p.x, p.w, p.b, conv);
  p.pooled = max_pool2d(p.conv, pool);
  p.argmax = p.pooled.producer().output(1);
  return p;
}

TensorMap random_inputs(const ConvPool& p, uint64_t seed) {
  Generator gen(seed);
  TensorMap in;
  for (const Value& v : {p.x, p.w, p.b}) {
    Tensor t = Tensor::empty(v.shape(), is_half(v.dtype()) ? DType::f32 : v.dtype());
    fill_normal(t, gen, 0.0, 1.0);
    in[v.producer().name] = t.to_dtype(v.dtype());
  }
  return in;
}

}  // namespace

// Every path of conv2d's forward pass hands its images to the pooling: 2 input channels
// take the direct float32 kernels, 8 Winograd's, 1 the one-channel kernel, a stride of 2
// the packed GEMM, float64 the reference loops; bfloat16 with 16 outputs runs on AMX,
// vdpbf16ps, what a CPU without AMX takes, or the float32 fallback (each forced in turn,
// where the CPU has it); 3x3
// windows with stride 2 and padding take the general pooling loop.
TEST(FuseConvPool, GivesTheTwoOpsBitsOnEveryPath) {
  enum class Bf16 { as_available, vdpbf16ps, no_amx, widened };
  struct Case {
    Shape x;
    int64_t o;
    DType dtype;
    Conv2dOptions conv = {.padding = 1};
    Pool2dOptions pool = {.kernel = 2};
    Bf16 bf16 = Bf16::as_available;
  };
  const Case cases[] = {
      {{3, 2, 30, 30}, 16, DType::f32},
      {{3, 8, 30, 30}, 16, DType::f32},
      {{3, 1, 30, 30}, 16, DType::f32},
      {{3, 4, 30, 30}, 16, DType::f32, {.stride = 2, .padding = 1}},
      {{3, 4, 30, 30}, 16, DType::f64},
      {{3, 4, 30, 30}, 16, DType::bf16},
      {{3, 4, 30, 30}, 16, DType::bf16, {.padding = 1}, {.kernel = 2}, Bf16::vdpbf16ps},
      {{3, 8, 30, 30}, 16, DType::bf16, {.padding = 1}, {.kernel = 2}, Bf16::no_amx},
      {{3, 8, 30, 30}, 16, DType::bf16, {.padding = 1}, {.kernel = 2}, Bf16::widened},
      {{3, 3, 30, 30}, 16, DType::f32, {.padding = 1}, {.kernel = 3, .stride = 2, .padding = 1}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.x.to_string() + " " + std::string(dtype_name(c.dtype)) + " path " +
                 std::to_string(static_cast<int>(c.bf16)));
    amx::force_off(c.bf16 != Bf16::as_available);
    gemm_bf16::force_vdpbf16ps(c.bf16 == Bf16::vdpbf16ps);
    gemm_bf16::force_fallback(c.bf16 == Bf16::widened);
    Graph g, plain;
    const ConvPool p = conv_pool(g, c.x, c.o, c.dtype, c.conv, c.pool);
    const ConvPool q = conv_pool(plain, c.x, c.o, c.dtype, c.conv, c.pool);
    const Value reader_g = relu(p.pooled), reader_plain = relu(q.pooled);
    ASSERT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{reader_g}), 1);
    EXPECT_EQ(reader_g.producer().inputs[0].producer().op, op::conv2d_max_pool2d);
    const TensorMap in = random_inputs(p, 11);
    // The rewrite leaves p.argmax unread: request the fused node's own.
    const Value fused_argmax = reader_g.producer().inputs[0].producer().output(1);
    const std::vector<Tensor> got = interpret(g, std::vector<Value>{reader_g, fused_argmax}, in);
    const std::vector<Tensor> want = interpret(plain, std::vector<Value>{reader_plain, q.argmax}, in);
    amx::force_off(false);
    gemm_bf16::force_vdpbf16ps(false);
    gemm_bf16::force_fallback(false);
    EXPECT_TRUE(bit_equal(got[0], want[0]));
    EXPECT_TRUE(bit_equal(got[1], want[1]));
  }
}

// A convolution whose output something else reads, or whose values are requested, stays;
// readers that no requested value needs (a rewrite's leftovers) do not count.
TEST(FuseConvPool, FusesOnlyWhatNothingElseReads) {
  {
    Graph g;
    const ConvPool p = conv_pool(g, Shape{2, 3, 8, 8}, 4, DType::f32);
    const Value other = relu(p.conv), out = relu(p.pooled);
    EXPECT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{out, other}), 0);
    EXPECT_EQ(out.producer().inputs[0], p.pooled);
    relu(p.conv);  // read by nothing requested
    EXPECT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{out}), 1);
  }
  {
    Graph g;
    const ConvPool p = conv_pool(g, Shape{2, 3, 8, 8}, 4, DType::f32);
    EXPECT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{p.pooled}), 0) << "the pooled value is requested";
    const Value out = relu(p.pooled);
    EXPECT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{out, p.conv}), 0) << "the convolution is requested";
    EXPECT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{out}), 1);
    EXPECT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{out}), 0) << "nothing left to fuse";
  }
  {
    // c feeds a second convolution, fused first (its pooling comes first), and a pooling
    // of its own: the fused node reads c, so c and its pooling stay.
    Graph g;
    const Value x = g.input("x", Shape{2, 3, 8, 8}), w = g.input("w", Shape{3, 3, 3, 3});
    const Value c = conv2d(x, w, {}, {.padding = 1});
    const Value second = max_pool2d(conv2d(c, w, {}, {.padding = 1}), {.kernel = 2});
    const Value own = max_pool2d(c, {.kernel = 2});
    const Value out = add(second, relu(own));
    EXPECT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{out}), 1);
    EXPECT_EQ(out.producer().inputs[0].producer().op, op::conv2d_max_pool2d);
    EXPECT_EQ(out.producer().inputs[1].producer().inputs[0], own);
  }
}

// An in-place update of the bias added after the rewrite orders after the fused node
// that reads it, not after the replaced convolution: a run never needs that one.
TEST(FuseConvPool, TheReplacedConvolutionIsNotNeededByLaterUpdates) {
  Graph g;
  const ConvPool p = conv_pool(g, Shape{2, 3, 8, 8}, 4, DType::f32);
  const Value loss = sum(p.pooled);
  ASSERT_EQ(scheduler::fuse_conv_pool(g, std::vector<Value>{loss}), 1);
  const int fused = loss.producer().inputs[0].node;
  Value lr = g.input("lr", Shape{}), buf = g.input("buf", Shape{4}), grad = g.input("grad", Shape{4});
  const int update = sgd_update(p.b, grad, lr, buf, {.momentum = 0.9});
  const std::vector<int> needed = g.needed_by(std::vector<Value>{loss}, g.effect_nodes());
  auto has = [&](int id) { return std::find(needed.begin(), needed.end(), id) != needed.end(); };
  EXPECT_TRUE(has(update));
  EXPECT_TRUE(has(fused));
  EXPECT_FALSE(has(p.conv.node));
  EXPECT_FALSE(has(p.pooled.node));
  const std::vector<int> before_update = g.dependencies(update);
  EXPECT_NE(std::find(before_update.begin(), before_update.end(), fused), before_update.end());
}
