// The mixed-precision pass: which values it casts (GEMM and convolution operands, once
// each), what stays float32, that compiled plans of the rewritten graph equal the plain
// interpreter bit for bit under every pass variant (so fused casts round as unfused ones
// do), that fusion folds the casts into epilogues and groups, that the memory plan counts
// 16-bit buffers, and the errors for a pass applied too late or not at all.
#include "scheduler/mixed_precision.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/grad.h"
#include "ops/builtin_ops.h"
#include "ops/op_def.h"
#include "ops/ops.h"
#include "plan_variants.h"
#include "sched_test_util.h"
#include "scheduler/commute_max.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"
#include "scheduler/sum_before_scatter.h"

namespace dagrad::scheduler::testing {
namespace {

struct Net {
  Graph g;
  std::vector<Value> params, outputs;
  TensorMap state, inputs;
};

// conv(1->4) relu conv(4->4) relu max_pool flatten linear(36->10) log_softmax nll_loss,
// autograd, then (when `low` is 16-bit) the pass, then momentum SGD updates. With
// `sums_first`, conv2's bias gradient sums before the pooling scatter
// (scheduler/sum_before_scatter.h), which lets the pass move the scatter's cast.
void build(Net& t, DType low, bool sums_first = false, bool move_casts = true) {
  const int64_t n = 5;
  Graph& g = t.g;
  Value x = g.input("images", Shape{n, 1, 10, 10});
  Value y = g.input("labels", Shape{n}, DType::i64);
  Value lr = g.input("lr", Shape{});
  Value w1 = g.parameter("w1", Shape{4, 1, 3, 3}), b1 = g.parameter("b1", Shape{4});
  Value w2 = g.parameter("w2", Shape{4, 4, 3, 3}), b2 = g.parameter("b2", Shape{4});
  Value w3 = g.parameter("w3", Shape{10, 36}), b3 = g.parameter("b3", Shape{10});
  Value h = relu(conv2d(x, w1, b1));
  h = max_pool2d(relu(conv2d(h, w2, b2)));
  Value loss = nll_loss(log_softmax(linear(flatten(h), w3, b3)), y);
  t.params = {w1, b1, w2, b2, w3, b3};
  if (sums_first) commute_max(g);  // relu after the pool, as the Trainer's graph has it
  std::vector<Value> grads = autograd::grad(g, loss, t.params);
  if (sums_first) sum_before_scatter(g);
  if (low != DType::f32) apply_mixed_precision(g, low, move_casts);
  for (size_t i = 0; i < t.params.size(); ++i) {
    const std::string buf = str_cat("momentum.", t.params[i].producer().name);
    sgd_update(t.params[i], grads[i], lr, g.parameter(buf, t.params[i].shape(), DType::f32, false),
               SgdOptions{.momentum = 0.9});
    t.state[buf] = Tensor::zeros(t.params[i].shape());
  }
  t.outputs = {loss};
  uint64_t seed = 1;
  for (const Value& p : t.params) t.state[p.producer().name] = pseudo_random(p.shape(), ++seed, 0.5);
  Tensor labels = Tensor::empty(Shape{n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) labels.data<int64_t>()[i] = (i * 3) % 10;
  t.inputs = {{"images", pseudo_random(Shape{n, 1, 10, 10}, 99, 1.0)},
              {"labels", labels},
              {"lr", Tensor::full(Shape{}, 0.05)}};
}

bool is_product(const Node& n) { return !n.op->low_precision_inputs.empty(); }

TEST(MixedPrecision, CastsEveryProductOperandOnceAndLeavesTheRestFloat32) {
  Net t;
  build(t, DType::bf16);
  const Graph& g = t.g;
  std::set<std::pair<int, int>> cast_sources;
  int casts = 0, products = 0;
  for (size_t id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(static_cast<int>(id));
    if (n.op == op::cast) {
      ++casts;
      EXPECT_EQ(n.outputs[0].dtype, DType::bf16) << n.name;
      EXPECT_TRUE(cast_sources.insert({n.inputs[0].node, n.inputs[0].index}).second)
          << "a second cast of " << n.inputs[0].producer().name;
    }
    if (is_product(n)) {
      ++products;
      for (int slot : n.op->low_precision_inputs)
        EXPECT_EQ(n.inputs[slot].dtype(), DType::bf16) << n.name << " input " << slot;
      EXPECT_EQ(n.outputs[0].dtype, DType::f32) << n.name;  // accumulated and returned in float32
    } else if (n.op != op::cast && !n.op->flags.view) {     // a view of a copy is that copy
      for (const TensorType& o : n.outputs) {
        EXPECT_NE(o.dtype, DType::bf16) << n.name << " (" << n.op_name() << ")";
      }
    }
  }
  // 3 forward products, conv1's weight gradient, conv2's two gradients, linear's two.
  EXPECT_EQ(products, 8);
  // images, w1, w2, w3, relu1, the flattened pooling, and the incoming gradients of conv1,
  // conv2 and the linear layer.
  EXPECT_EQ(casts, 9);
  // Each weight's copy feeds its forward product and its input gradient; a parameter and
  // its optimizer state stay float32.
  const Node& w2_copy = g.node("w2.bf16");
  EXPECT_EQ(w2_copy.inputs[0].producer().name, "w2");
  EXPECT_EQ(g.users(w2_copy.id).size(), 2u);
  for (const Value& p : g.parameters(false)) EXPECT_EQ(p.dtype(), DType::f32) << p.producer().name;
  // Bias gradients are sums of the float32 gradient, not of its copy.
  for (size_t id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(static_cast<int>(id));
    if (n.op->kind != OpKind::reduction) continue;
    for (const Value& v : n.inputs) EXPECT_TRUE(is_floating(v.dtype())) << n.name;
  }
}

// Also with the pooling gradient scattering the bfloat16 copy (sums_first).
TEST(MixedPrecision, PlansEqualTheInterpreterUnderEveryVariant) {
  for (const bool sums_first : {false, true}) {
    SCOPED_TRACE(sums_first ? "sums first" : "as autograd wrote it");
    Net t;
    build(t, DType::bf16, sums_first);
    expect_steps_match_interpreter(t.g, t.outputs, t.inputs, t.state, {1, 2}, DType::bf16);
  }
}

// bfloat16 keeps 8 significant bits: each operand is off by at most 2^-9 relatively, a
// product by about 2^-8, and sums of many such products average the errors out. The loss
// after a few steps of this small net moves by far less than 2% (measured: ~0.1%).
TEST(MixedPrecision, LossesStayCloseToFloat32) {
  Net lo, hi;
  build(lo, DType::bf16);
  build(hi, DType::f32);
  CompileOptions o16;
  o16.precision = DType::bf16;
  Executor e16(compile(lo.g, lo.outputs, o16)), e32(compile(hi.g, hi.outputs));
  e16.bind(lo.state);
  e32.bind(hi.state);
  for (int s = 0; s < 5; ++s) {
    const float a = e16.run(lo.inputs)[0].data<float>()[0], b = e32.run(hi.inputs)[0].data<float>()[0];
    EXPECT_NEAR(a, b, 0.02 * std::abs(b)) << "step " << s;
    EXPECT_NE(a, b) << "step " << s << ": the bfloat16 plan should round differently";
  }
}

TEST(MixedPrecision, FusionFoldsCastsAndTheArenaCountsTwoBytes) {
  Net t;
  build(t, DType::bf16);
  CompileOptions o;
  o.precision = DType::bf16;
  const ExecutionPlan plan = compile(t.g, t.outputs, o);
  const Graph& g = t.g;
  bool in_epilogue = false, in_group = false;
  for (const FusedGroup& grp : plan.groups)
    for (int m : grp.nodes)
      if (g.node(m).op == op::cast) (grp.epilogue_of >= 0 ? in_epilogue : in_group) = true;
  EXPECT_TRUE(in_epilogue) << "relu1's copy should be written by conv1's epilogue\n" << plan.to_table();
  EXPECT_TRUE(in_group) << "a gradient's copy should fuse with its relu_backward\n" << plan.to_table();
  int half_buffers = 0;
  for (const Buffer& b : plan.buffers)
    if (b.dtype == DType::bf16) {
      ++half_buffers;
      EXPECT_EQ(b.bytes, static_cast<size_t>(b.shape.numel()) * 2) << b.name;
    }
  EXPECT_GE(half_buffers, 6);
  EXPECT_NE(plan.to_table().find("w1.bf16"), std::string::npos) << "plans name the copies";
}

// Two float32 outputs are read only by their epilogues: conv1's (relu, then the cast for
// conv2; relu1's mask reads that copy) and the pooled value's (its cast for the linear
// layer). The executor offers those kernels to hand their pieces to the epilogue, so the
// outputs need not go to memory (conv1 does so); the plans above equal the interpreter
// with it. In float32, relu writes over conv1's output and the pooled value feeds the
// product itself.
TEST(MixedPrecision, AnOutputReadOnlyByItsEpilogueIsHandedOver) {
  for (DType low : {DType::bf16, DType::f32}) {
    Net t;
    build(t, low);
    CompileOptions o;
    o.precision = low;
    EXPECT_EQ(Executor(compile(t.g, t.outputs, o)).handed_outputs(), low == DType::bf16 ? 2 : 0) << dtype_name(low);
  }
  Net t;
  build(t, DType::bf16);
  CompileOptions o;
  o.precision = DType::bf16;
  o.fuse_epilogues = false;
  EXPECT_EQ(Executor(compile(t.g, t.outputs, o)).handed_outputs(), 0) << "without epilogues";
}

// The relu_backward nodes of `g` whose mask (input 1) is `dtype`.
std::vector<int> masks_of(const Graph& g, DType dtype) {
  std::vector<int> ids;
  for (size_t id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(static_cast<int>(id));
    if (n.op->name == "relu_backward" && n.inputs[1].dtype() == dtype) ids.push_back(n.id);
  }
  return ids;
}

// relu1's mask reads the bfloat16 copy made for conv2 (relu2's has none and stays float32):
// the same signs, so the same gradients bit for bit, and relu1's float32 output no longer
// lives into the backward pass. float16, whose rounding can zero small activations, keeps
// its float32 masks.
TEST(MixedPrecision, MasksReadTheBfloat16CopyWithTheSameResults) {
  Net t, u, h;
  build(t, DType::bf16);
  build(u, DType::bf16);
  build(h, DType::f16);
  ASSERT_EQ(masks_of(t.g, DType::bf16).size(), 1u);
  EXPECT_EQ(masks_of(t.g, DType::f32).size(), 1u);
  EXPECT_TRUE(masks_of(h.g, DType::f16).empty());
  for (int id : masks_of(u.g, DType::bf16))  // u: the masks back on the float32 activation
    u.g.set_inputs(id, {{1, u.g.node(id).inputs[1].producer().inputs[0]}});
  ASSERT_TRUE(masks_of(u.g, DType::bf16).empty());
  CompileOptions o;
  o.precision = DType::bf16;
  const ExecutionPlan pt = compile(t.g, t.outputs, o), pu = compile(u.g, u.outputs, o);
  EXPECT_LT(max_live_bytes(pt), max_live_bytes(pu));
  Executor et(pt), eu(pu);
  et.bind(t.state);
  eu.bind(u.state);
  for (int s = 0; s < 3; ++s) EXPECT_TRUE(all_bit_equal(et.run(t.inputs), eu.run(u.inputs))) << "step " << s;
  EXPECT_TRUE(all_bit_equal(t.state, u.state));
  // The pass counts the masks it moves.
  for (DType low : {DType::bf16, DType::f16}) {
    Graph g;
    Value h = relu(g.input("x", Shape{2, 4}));
    Value y = matmul(h, g.input("w", Shape{4, 3}));
    Value dx = relu_backward(g.input("dh", Shape{2, 4}), h);
    const MixedPrecisionResult r = apply_mixed_precision(g, low);
    EXPECT_EQ(r.masks, low == DType::bf16 ? 1 : 0) << dtype_name(low);
    EXPECT_EQ(dx.producer().inputs[1], low == DType::bf16 ? y.producer().inputs[0] : h) << dtype_name(low);
  }
}

// The pooling gradient's scatter, read only by conv2's products once its bias gradient sums
// before it, runs on the bfloat16 copy of its input instead of being cast: the same values
// bit for bit (its windows do not overlap, so it only moves values), without the float32
// gradient or the cast.
TEST(MixedPrecision, ThePoolingGradientScattersTheBfloat16Copy) {
  Net t, u;
  build(t, DType::bf16, true, true);
  build(u, DType::bf16, true, false);
  auto scatters = [](const Graph& g, DType dtype) {
    int count = 0;
    for (size_t id = 0; id < g.num_nodes(); ++id) {
      const Node& n = g.node(static_cast<int>(id));
      if (n.op->flags.scatters_input0 && n.outputs[0].dtype == dtype) {
        ++count;
        for (int reader : g.users(n.id)) EXPECT_TRUE(is_product(g.node(reader))) << g.node(reader).name;
      }
    }
    return count;
  };
  EXPECT_EQ(scatters(t.g, DType::bf16), 1);
  EXPECT_EQ(scatters(u.g, DType::bf16), 0);
  CompileOptions o;
  o.precision = DType::bf16;
  const ExecutionPlan pt = compile(t.g, t.outputs, o), pu = compile(u.g, u.outputs, o);
  // The float32 gradient [5,4,6,6] is gone (both keep a bfloat16 one). The pooled
  // gradient's bfloat16 copy, which the scatter reads, costs no buffer of its own: it is
  // written over the pooled activation's copy (relu's mask, cast once for the flattening
  // reshape and read by relu_backward), which dies there.
  EXPECT_EQ(pu.unplanned_bytes - pt.unplanned_bytes, 5 * 4 * 6 * 6 * sizeof(float));
  Executor et(pt), eu(pu);
  et.bind(t.state);
  eu.bind(u.state);
  for (int s = 0; s < 3; ++s) EXPECT_TRUE(all_bit_equal(et.run(t.inputs), eu.run(u.inputs))) << "step " << s;
  EXPECT_TRUE(all_bit_equal(t.state, u.state));
}

// A value read by a product directly and by another through a reshape (a linear layer's
// input and its weight gradient, flattened) has one copy: the reshape is made again as a
// view of the value's cast, also when a float32 op reads the reshape too. The results
// are those of casting each reshape, bit for bit.
TEST(MixedPrecision, AReshapedValueIsCastOnce) {
  const TensorMap in = {{"x", pseudo_random(Shape{4, 6}, 3, 1.0)},
                        {"w", pseudo_random(Shape{3, 6}, 4, 1.0)},
                        {"v", pseudo_random(Shape{4, 5}, 5, 1.0)}};
  auto run = [&](bool move) {
    SCOPED_TRACE(move ? "moved" : "every copy a cast");
    Graph g;
    Value x = g.input("x", Shape{4, 6}), w = g.input("w", Shape{3, 6}), v = g.input("v", Shape{4, 5});
    Value h = exp(x);
    Value flat = reshape(h, {6, 4});
    std::vector<Value> outs = {matmul(h, w, false, true), matmul(flat, v), sum(flat, {0})};
    const MixedPrecisionResult r = apply_mixed_precision(g, DType::bf16, move);
    int casts_of_h = 0;
    for (size_t id = 0; id < g.num_nodes(); ++id) {
      const Node& n = g.node(static_cast<int>(id));
      if (n.op == op::cast && (n.inputs[0] == h || n.inputs[0] == flat)) ++casts_of_h;
    }
    EXPECT_EQ(casts_of_h, move ? 1 : 2);
    EXPECT_EQ(r.moved, move ? 1 : 0);
    if (move) {
      const Node& view = outs[1].producer().inputs[0].producer();
      EXPECT_EQ(view.op, op::reshape);
      EXPECT_EQ(view.inputs[0], outs[0].producer().inputs[0]);  // h's one copy
    }
    EXPECT_EQ(outs[2].producer().inputs[0], flat);  // the float32 sum still reads the float32 view
    return interpret(g, outs, in);
  };
  EXPECT_TRUE(all_bit_equal(run(true), run(false)));
}

// The move needs a scatter that only moves values, read only by products: overlapping
// windows sum, and a float32 reader (the bias gradient's sum, without sum_before_scatter)
// still needs the float32 gradient.
TEST(MixedPrecision, KeepsTheCastOfASummingOrSharedScatter) {
  for (const bool overlapping : {true, false}) {
    Graph g;
    Value x = g.input("x", Shape{2, 4, 7, 7});
    const Pool2dOptions opt = overlapping ? Pool2dOptions{.kernel = 3, .stride = 2} : Pool2dOptions{.kernel = 2};
    Value pooled = max_pool2d(x, opt);
    Value dx = max_pool2d_backward(g.input("dy", pooled.shape()), pooled.producer().output(1), x.shape(), opt);
    Value dw = conv2d_backward_weight(dx, x, Shape{4, 4, 1, 1}, {});
    Value db = sum(dx, {0, 2, 3});
    if (overlapping) {
      EXPECT_EQ(sum_before_scatter(g), 1);  // the sum moves; the windows still overlap
    }
    const MixedPrecisionResult r = apply_mixed_precision(g, DType::bf16);
    EXPECT_EQ(r.moved, 0) << (overlapping ? "overlapping windows" : "a float32 reader");
    EXPECT_EQ(dw.producer().inputs[0].producer().op, op::cast);
    EXPECT_EQ(db.producer().inputs[0], overlapping ? dx.producer().inputs[0] : dx);
  }
}

TEST(MixedPrecision, RefusedAfterTheUpdatesAndRequiredByCompile) {
  Net late;
  build(late, DType::f32);  // updates already added
  try {
    apply_mixed_precision(late.g, DType::bf16);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'w1' is already overwritten in place by 'sgd_update_"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(float32_products(late.g).size() == 8u) << "a refused pass changes nothing";
  CompileOptions o;
  o.precision = DType::bf16;
  try {
    compile(late.g, late.outputs, o);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[scheduler] precision is bfloat16 but '"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("multiplies float32 operands: apply scheduler::apply_mixed_precision"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(apply_mixed_precision(late.g, DType::f32), ValueError);
  o.precision = DType::i8;
  EXPECT_THROW(compile(late.g, late.outputs, o), ValueError);
}

TEST(MixedPrecision, LeavesFloat64AndMixedOperandsAlone) {
  Graph g;
  Value a = g.input("a", Shape{3, 4}, DType::f64), b = g.input("b", Shape{4, 2}, DType::f64);
  Value c = g.input("c", Shape{2, 4}), d = g.input("d", Shape{4, 2}, DType::bf16);
  Value p64 = matmul(a, b);
  Value p16 = matmul(cast(c, DType::bf16), d);  // already 16-bit
  const MixedPrecisionResult r = apply_mixed_precision(g, DType::f16);
  EXPECT_EQ(r.casts, 0);
  EXPECT_EQ(r.products, 0);
  EXPECT_EQ(p64.producer().inputs[0].dtype(), DType::f64);
  EXPECT_EQ(p16.producer().inputs[1].dtype(), DType::bf16);
  Value e = g.input("e", Shape{2, 4});
  Value p32 = matmul(e, e, false, true);  // one value for both operands: one cast
  const MixedPrecisionResult f = apply_mixed_precision(g, DType::f16);
  EXPECT_EQ(f.casts, 1);
  EXPECT_EQ(f.products, 1);
  EXPECT_EQ(p32.producer().inputs[0], p32.producer().inputs[1]);
  EXPECT_EQ(p32.producer().inputs[0].dtype(), DType::f16);
}

}  // namespace
}  // namespace dagrad::scheduler::testing
