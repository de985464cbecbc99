// compile(): pruning, fusion (chains, trees, broadcasting, epilogues), determinism and
// the plan's three renderings.
#include "scheduler/compile.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ops/ops.h"
#include "sched_test_util.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler::testing {
namespace {

Tensor ramp(const Shape& s, double scale = 0.1, double offset = -0.3) {
  Tensor t = Tensor::empty(s, DType::f32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(offset + scale * ((i * 7) % 11));
  return t;
}

// Runs `plan` once and checks every output against the interpreter, bit for bit.
void expect_matches_interpreter(const Graph& g, const std::vector<Value>& outs, const ExecutionPlan& plan,
                                const TensorMap& bindings) {
  EXPECT_PLAN_SAFE(plan);
  std::vector<Tensor> want = interpret(g, outs, clone_all(bindings));
  Executor ex(plan);
  std::vector<Tensor> got = ex.run(clone_all(bindings));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(bit_equal(got[i], want[i])) << "output " << i;
}

CompileOptions no_fusion() {
  CompileOptions o;
  o.fuse = false;
  return o;
}

TEST(Fusion, ChainOfFiveElementwiseOpsIsOneStep) {
  Graph g;
  Value x = g.input("x", Shape{37, 29});
  Value r = relu(x);
  Value s = sigmoid(r);
  Value y = neg(exp(tanh(s)));
  TensorMap in{{"x", ramp(Shape{37, 29})}};

  ExecutionPlan fused = compile(g, std::vector<Value>{y});
  EXPECT_EQ(fused.num_kernels(), 1);
  ASSERT_EQ(fused.groups.size(), 1u);
  EXPECT_EQ(fused.groups[0].nodes.size(), 5u);
  EXPECT_EQ(fused.steps[0].kind, StepKind::fused);
  // Only the result is materialised; the four intermediates live in tile buffers.
  EXPECT_EQ(fused.groups[0].outputs.size(), 1u);
  EXPECT_EQ(fused.buffer_of(r), -1);
  EXPECT_EQ(fused.buffer_of(s), -1);
  expect_matches_interpreter(g, {y}, fused, in);

  ExecutionPlan plain = compile(g, std::vector<Value>{y}, no_fusion());
  EXPECT_EQ(plain.num_kernels(), 5);
  EXPECT_TRUE(plain.groups.empty());
  expect_matches_interpreter(g, {y}, plain, in);
}

TEST(Fusion, ValueUsedOutsideTheGroupIsMaterialised) {
  Graph g;
  Value x = g.input("x", Shape{4, 8});
  Value w = g.input("w", Shape{8, 8});
  Value a = relu(x);
  Value b = tanh(a);
  Value c = exp(b);
  Value d = matmul(b, w);
  TensorMap in{{"x", ramp(Shape{4, 8})}, {"w", ramp(Shape{8, 8}, 0.05)}};
  std::vector<Value> outs{c, d};

  ExecutionPlan plan = compile(g, outs);
  ASSERT_EQ(plan.groups.size(), 1u);
  const FusedGroup& grp = plan.groups[0];
  EXPECT_EQ(grp.nodes, (std::vector<int>{a.node, b.node, c.node}));
  EXPECT_EQ(grp.outputs, (std::vector<ValueRef>{{b.node, 0}, {c.node, 0}}));
  EXPECT_EQ(plan.buffer_of(a), -1);
  EXPECT_GE(plan.buffer_of(b), 0);
  EXPECT_EQ(plan.num_kernels(), 2);
  expect_matches_interpreter(g, outs, plan, in);
}

TEST(Fusion, TreesWithBroadcastInputs) {
  Graph g;
  Value x = g.input("x", Shape{3, 4, 5});
  Value b = g.input("b", Shape{5});
  Value c = g.input("c", Shape{3, 1, 1});
  Value s = g.input("s", Shape{});
  Value r = g.input("r", Shape{1, 4, 1});
  Value y = relu(x + b) * sigmoid(x * c) - maximum(x * s, r);
  TensorMap in{{"x", ramp(Shape{3, 4, 5})},
               {"b", ramp(Shape{5}, 0.2)},
               {"c", ramp(Shape{3, 1, 1}, 0.3, 0.1)},
               {"s", ramp(Shape{}, 1, 0.7)},
               {"r", ramp(Shape{1, 4, 1}, 0.15)}};

  ExecutionPlan plan = compile(g, std::vector<Value>{y});
  EXPECT_EQ(plan.num_kernels(), 1);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].nodes.size(), 8u);
  EXPECT_EQ(plan.groups[0].inputs.size(), 5u);  // each external input read once
  expect_matches_interpreter(g, {y}, plan, in);
  EXPECT_EQ(compile(g, std::vector<Value>{y}, no_fusion()).num_kernels(), 8);
}

// A 16-bit member is rounded where a later member reads it (h, read by the add) and by
// the store alone where it is only an output (h2): both equal the unfused evaluation.
TEST(Fusion, SixteenBitMembersRoundAsTheInterpreterDoes) {
  Graph g;
  Value x = g.input("x", Shape{33, 41});
  Value h = cast(x * 3.1, DType::bf16);
  Value y = cast(h, DType::f32) + 0.37;
  Value h2 = cast(y * y, DType::bf16);
  Value h3 = cast(exp(y), DType::f16);
  TensorMap in{{"x", ramp(Shape{33, 41}, 0.0123, -0.07)}};
  std::vector<Value> outs{h, h2, h3};

  ExecutionPlan plan = compile(g, outs);
  ASSERT_EQ(plan.groups.size(), 1u) << plan.to_table();
  EXPECT_EQ(plan.groups[0].nodes.size(), 8u) << plan.to_table();  // the scalars are steps of their own
  expect_matches_interpreter(g, outs, plan, in);
}

TEST(Fusion, LargeTensorsTileCorrectly) {
  Graph g;
  Value x = g.input("x", Shape{3, 1000, 7});  // not a multiple of the tile, several threads
  Value b = g.input("b", Shape{1000, 1});
  Value y = tanh(x * b) + x;
  TensorMap in{{"x", ramp(Shape{3, 1000, 7}, 0.01)}, {"b", ramp(Shape{1000, 1}, 0.02)}};
  expect_matches_interpreter(g, {y}, compile(g, std::vector<Value>{y}), in);
}

TEST(Fusion, EpilogueFoldsIntoMatmul) {
  Graph g;
  Value x = g.input("x", Shape{5, 6});
  Value w = g.input("w", Shape{6, 8});
  Value b = g.input("b", Shape{8});
  Value mm = matmul(x, w);
  Value y = relu(mm + b);
  TensorMap in{{"x", ramp(Shape{5, 6})}, {"w", ramp(Shape{6, 8}, 0.07)}, {"b", ramp(Shape{8}, 0.2)}};
  std::vector<Value> outs{y};

  ExecutionPlan plan = compile(g, outs);
  EXPECT_EQ(plan.num_kernels(), 1);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].epilogue_of, mm.node);
  EXPECT_EQ(plan.steps[0].kind, StepKind::kernel);
  EXPECT_EQ(plan.steps[0].group, 0);
  // The epilogue writes over the matmul's output in place.
  EXPECT_EQ(plan.buffer_of(y), plan.buffer_of(mm));
  expect_matches_interpreter(g, outs, plan, in);

  CompileOptions no_epi;
  no_epi.fuse_epilogues = false;
  ExecutionPlan plan2 = compile(g, outs, no_epi);
  EXPECT_EQ(plan2.num_kernels(), 2);
  expect_matches_interpreter(g, outs, plan2, in);
  EXPECT_EQ(compile(g, outs, no_fusion()).num_kernels(), 3);
}

// A product large enough for several tiles of whole rows runs its epilogue tile by tile
// (ops/cpu/matmul.cpp); when the epilogue casts, nothing else reads the product, so the
// tiles are handed over instead of written. The results stay the interpreter's.
TEST(Fusion, EpilogueRunsOnTheRowTilesOfALargeMatmul) {
  for (const bool cast_out : {false, true}) {
    SCOPED_TRACE(cast_out ? "cast" : "float32");
    Graph g;
    Value mm = matmul(g.input("x", Shape{2048, 128}), g.input("w", Shape{128, 64}));
    Value y = relu(mm + g.input("b", Shape{64}));
    if (cast_out) y = cast(y, DType::bf16);
    TensorMap in{{"x", ramp(Shape{2048, 128}, 0.01)}, {"w", ramp(Shape{128, 64}, 0.07)}, {"b", ramp(Shape{64}, 0.2)}};
    const ExecutionPlan plan = compile(g, std::vector<Value>{y});
    EXPECT_EQ(plan.num_kernels(), 1) << plan.to_table();
    EXPECT_EQ(Executor(plan).handed_outputs(), cast_out ? 1 : 0);
    expect_matches_interpreter(g, {y}, plan, in);
  }
}

TEST(Fusion, EpilogueKeepsAProducerOutputUsedElsewhere) {
  Graph g;
  Value x = g.input("x", Shape{5, 6});
  Value w = g.input("w", Shape{6, 6});
  Value mm = matmul(x, w);
  Value y = relu(mm);
  Value z = tanh(matmul(mm, w));
  std::vector<Value> outs{y, z};
  TensorMap in{{"x", ramp(Shape{5, 6})}, {"w", ramp(Shape{6, 6}, 0.07)}};
  ExecutionPlan plan = compile(g, outs);
  EXPECT_EQ(plan.step_of(y.node), plan.step_of(mm.node));
  EXPECT_NE(plan.buffer_of(y), plan.buffer_of(mm));  // mm is read again: no in place
  EXPECT_EQ(plan.num_kernels(), 2);
  expect_matches_interpreter(g, outs, plan, in);
}

// Max pooling has two outputs; an epilogue runs over output 0 (the pooled values) only,
// and a group that also reads the index output is not folded into it.
TEST(Fusion, EpilogueOfMaxPoolingReadsOnlyItsValues) {
  Graph g;
  Value x = g.input("x", Shape{2, 3, 6, 6});
  Value y = max_pool2d(x, {.kernel = 2});
  Value r = relu(y);
  Value both_outputs = cast(y.producer().output(1), DType::f32) + r;  // reads the index too
  TensorMap in{{"x", ramp(Shape{2, 3, 6, 6}, 0.03)}};
  ExecutionPlan plan = compile(g, std::vector<Value>{r});
  EXPECT_EQ(plan.num_kernels(), 1);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].epilogue_of, y.node);
  expect_matches_interpreter(g, {r}, plan, in);
  ExecutionPlan both = compile(g, std::vector<Value>{both_outputs});
  for (const FusedGroup& grp : both.groups) EXPECT_EQ(grp.epilogue_of, -1) << both.to_table();
  EXPECT_NE(both.step_of(both_outputs.node), both.step_of(y.node));
  expect_matches_interpreter(g, {both_outputs}, both, in);
}

TEST(Fusion, NeverMergesAcrossAPathThroughAnotherStep) {
  Graph g;
  Value x = g.input("x", Shape{4, 6});
  Value a = relu(x);
  Value m = sum(a, {1}, true);  // a -> m -> c: a and c in one step would be a cycle
  Value c = tanh(a) + m;
  TensorMap in{{"x", ramp(Shape{4, 6})}};
  ExecutionPlan plan = compile(g, std::vector<Value>{c});
  EXPECT_NE(plan.step_of(a.node), plan.step_of(c.node));
  EXPECT_LT(plan.step_of(m.node), plan.step_of(c.node));
  expect_matches_interpreter(g, {c}, plan, in);
}

TEST(Fusion, KernelCountsWithAndWithoutFusion) {
  // Two-layer MLP forward: matmul, bias, relu, matmul, bias, tanh.
  Graph g;
  Value x = g.input("x", Shape{8, 16});
  Value w1 = g.parameter("w1", Shape{16, 32});
  Value b1 = g.parameter("b1", Shape{32});
  Value w2 = g.parameter("w2", Shape{32, 4});
  Value b2 = g.parameter("b2", Shape{4});
  Value y = tanh(matmul(relu(matmul(x, w1) + b1), w2) + b2);
  std::vector<Value> outs{y};
  TensorMap in{{"x", ramp(Shape{8, 16})},
               {"w1", ramp(Shape{16, 32}, 0.02)},
               {"b1", ramp(Shape{32}, 0.1)},
               {"w2", ramp(Shape{32, 4}, 0.03)},
               {"b2", ramp(Shape{4}, 0.1)}};
  CompileOptions no_epi;
  no_epi.fuse_epilogues = false;
  EXPECT_EQ(compile(g, outs, no_fusion()).num_kernels(), 6);
  EXPECT_EQ(compile(g, outs, no_epi).num_kernels(), 4);
  EXPECT_EQ(compile(g, outs).num_kernels(), 2);
  for (const CompileOptions& o : {no_fusion(), no_epi, CompileOptions{}})
    expect_matches_interpreter(g, outs, compile(g, outs, o), in);
}

TEST(Compile, OutputsThatAreInputsNeedNoSteps) {
  Graph g;
  Value x = g.input("x", Shape{2, 2});
  Value v = reshape(x, {4});
  ExecutionPlan plan = compile(g, std::vector<Value>{x, v});
  EXPECT_EQ(plan.num_kernels(), 0);
  EXPECT_EQ(plan.arena_bytes, 0u);
  Tensor t = Tensor::full(Shape{2, 2}, 3.0);
  std::vector<Tensor> got = Executor(plan).run({{"x", t}});
  EXPECT_TRUE(bit_equal(got[0], t));
  EXPECT_TRUE(bit_equal(got[1], t.view(Shape{4})));
  EXPECT_FALSE(got[0].same_storage(t));  // a copy
}

TEST(Prune, DropsUnneededNodesAndKeepsInPlaceWriters) {
  Graph g;
  Value x = g.input("x", Shape{2, 3});
  Value p = g.parameter("p", Shape{2, 3});
  Value lr = g.input("lr", Shape{});
  Value y = relu(x);
  Value unused = exp(x);
  int update = sgd_update(p, x * 2.0, lr, Value{}, SgdOptions{});
  ExecutionPlan plan = compile(g, std::vector<Value>{y});
  EXPECT_EQ(plan.step_of(unused.node), -1);
  EXPECT_GE(plan.step_of(y.node), 0);
  EXPECT_GE(plan.step_of(update), 0);
  EXPECT_EQ(plan.bound_nodes, (std::vector<int>{x.node, p.node, lr.node}));

  CompileOptions keep_all;
  keep_all.prune = false;
  EXPECT_GE(compile(g, std::vector<Value>{y}, keep_all).step_of(unused.node), 0);
}

TEST(Compile, RejectsBadOptionsAndOutputs) {
  Graph g, other;
  Value x = g.input("x", Shape{2});
  Value y = relu(x);
  Value z = relu(other.input("z", Shape{2}));
  CompileOptions bad;
  bad.num_streams = 0;
  try {
    compile(g, std::vector<Value>{y}, bad);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[scheduler] num_streams must be at least 1, got 0"), std::string::npos);
  }
  EXPECT_THROW(compile(g, std::vector<Value>{Value{}}), GraphError);
  try {
    compile(g, std::vector<Value>{z});
    FAIL() << "expected GraphError";
  } catch (const GraphError& e) {
    EXPECT_NE(std::string(e.what()).find("[scheduler] output 0 belongs to another graph"), std::string::npos);
  }
}

TEST(Compile, IsDeterministic) {
  Graph g;
  Value x = g.input("x", Shape{6, 6});
  Value w = g.parameter("w", Shape{6, 6});
  Value a = relu(matmul(x, w));
  Value b = sigmoid(matmul(x, w, true));
  Value c = matmul(a, b) + tanh(a);
  CompileOptions o;
  o.num_streams = 3;
  std::vector<Value> outs{c};
  EXPECT_EQ(compile(g, outs, o).to_json(), compile(g, outs, o).to_json());
}

TEST(PlanOutput, TableDotAndJson) {
  Graph g;
  Value x = g.input("x", Shape{5, 6});
  Value w = g.parameter("w", Shape{6, 6});
  Value h = relu(matmul(x, w));
  Value y = tanh(h) * sigmoid(h);
  CompileOptions o;
  o.num_streams = 2;
  ExecutionPlan plan = compile(g, std::vector<Value>{y, matmul(h, w)}, o);

  std::string table = plan.to_table();
  EXPECT_NE(table.find("steps"), std::string::npos);
  EXPECT_NE(table.find("buffers"), std::string::npos);
  std::string tail = table.substr(table.rfind('\n', table.size() - 2) + 1);
  EXPECT_NE(tail.find(str_cat(plan.num_kernels(), " kernels, planned peak ", plan.arena_bytes, " bytes")),
            std::string::npos)
      << tail;

  std::string dot = plan.to_dot();
  EXPECT_EQ(dot.rfind("digraph plan {", 0), 0u);
  EXPECT_NE(dot.find("subgraph cluster_g0"), std::string::npos);
  EXPECT_NE(dot.find("fillcolor"), std::string::npos);

  nlohmann::json j = nlohmann::json::parse(plan.to_json());
  EXPECT_EQ(j["num_kernels"], plan.num_kernels());
  EXPECT_EQ(j["arena_bytes"], plan.arena_bytes);
  EXPECT_EQ(j["steps"].size(), plan.steps.size());
  EXPECT_EQ(j["buffers"].size(), plan.buffers.size());
  EXPECT_EQ(j["groups"].size(), plan.groups.size());
  EXPECT_EQ(j["steps"][0]["kind"], std::string(step_kind_name(plan.steps[0].kind)));
}

}  // namespace
}  // namespace dagrad::scheduler::testing
