// A whole training step (forward, autograd backward, momentum SGD updates, dropout,
// batch norm) under every combination of passes, for several steps: parameters and
// losses must match the plain interpreter bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "autograd/grad.h"
#include "ops/ops.h"
#include "plan_variants.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler::testing {
namespace {

struct TrainGraph {
  Graph g;
  std::vector<Value> outputs;
  TensorMap state;
};

// conv(1->8, 3x3, pad 1) + bias, relu, conv(8->8, 3x3, pad 1) (Winograd's size), relu,
// max_pool 2, batch_norm, flatten, dropout, linear(8*4*4 -> 10), log_softmax, nll_loss;
// SGD with momentum on every parameter. relu's gradients run as epilogues of the pooling
// gradient and of conv2's input gradient.
void build(TrainGraph& t, int64_t n) {
  Graph& g = t.g;
  Value x = g.input("images", Shape{n, 1, 8, 8});
  Value y = g.input("labels", Shape{n}, DType::i64);
  Value lr = g.input("lr", Shape{});
  Value w1 = g.parameter("w1", Shape{8, 1, 3, 3});
  Value b1 = g.parameter("b1", Shape{8});
  Value wc = g.parameter("wc", Shape{8, 8, 3, 3});
  Value bc = g.parameter("bc", Shape{8});
  Value gamma = g.parameter("gamma", Shape{8});
  Value beta = g.parameter("beta", Shape{8});
  Value mean = g.parameter("running_mean", Shape{8}, DType::f32, false);
  Value var = g.parameter("running_var", Shape{8}, DType::f32, false);
  Value w2 = g.parameter("w2", Shape{10, 128});
  Value b2 = g.parameter("b2", Shape{10});
  Value h = relu(conv2d(x, w1, b1, {.stride = 1, .padding = 1}));
  h = relu(conv2d(h, wc, bc, {.stride = 1, .padding = 1}));
  h = batch_norm(max_pool2d(h), gamma, beta, mean, var, true);
  h = dropout(flatten(h), 0.25, 11);
  Value loss = nll_loss(log_softmax(linear(h, w2, b2)), y);
  std::vector<Value> params{w1, b1, wc, bc, gamma, beta, w2, b2};
  std::vector<Value> grads = autograd::grad(g, loss, params);
  for (size_t i = 0; i < params.size(); ++i) {
    std::string buf = str_cat("momentum.", g.node(params[i].node).name);
    Value m = g.parameter(buf, params[i].shape(), DType::f32, false);
    sgd_update(params[i], grads[i], lr, m, SgdOptions{.momentum = 0.9});
    t.state[buf] = Tensor::zeros(params[i].shape());
  }
  t.outputs = {loss};
  uint64_t seed = 1;
  for (const Value& p : params) t.state[g.node(p.node).name] = pseudo_random(p.shape(), ++seed, 0.4);
  t.state["gamma"] = Tensor::full(Shape{8}, 1.0);
  t.state["running_mean"] = Tensor::zeros(Shape{8});
  t.state["running_var"] = Tensor::full(Shape{8}, 1.0);
}

TEST(SchedulerTraining, StepsMatchTheInterpreterUnderEveryVariant) {
  const int64_t n = 6;
  TrainGraph t;
  build(t, n);
  Tensor labels = Tensor::empty(Shape{n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) labels.data<int64_t>()[i] = (i * 7) % 10;
  TensorMap in{
      {"images", pseudo_random(Shape{n, 1, 8, 8}, 99, 1.0)}, {"labels", labels}, {"lr", Tensor::full(Shape{}, 0.1)}};
  expect_steps_match_interpreter(t.g, t.outputs, in, t.state, {1, 2, 4});
}

// The bias gradients' sums (over [n, 8, 8, 8] but the channels) take the plane sums of
// the epilogue steps of the pooling gradient and of conv2's input gradient; the test
// above checks that every result stays the interpreter's.
TEST(SchedulerTraining, BiasGradientSumsTakePlaneSumsFromTheirEpilogueSteps) {
  TrainGraph t;
  build(t, 6);
  for (int streams : {1, 2}) {
    CompileOptions o;
    o.num_streams = streams;
    Executor with_epilogues(compile(t.g, t.outputs, o));
    EXPECT_EQ(with_epilogues.plane_sum_readers(), 2) << streams << " streams";
  }
  CompileOptions no_epilogues;
  no_epilogues.fuse_epilogues = false;
  EXPECT_EQ(Executor(compile(t.g, t.outputs, no_epilogues)).plane_sum_readers(), 0);
}

TEST(SchedulerTraining, FusionAndPlanningShrinkTheStep) {
  TrainGraph t;
  build(t, 6);
  CompileOptions plain;
  plain.fuse = false;
  plain.plan_memory = false;
  ExecutionPlan base = compile(t.g, t.outputs, plain);
  // DAGRAD_PRINT_PLAN=<streams> prints the optimised plan, compiled for that many streams.
  CompileOptions defaults;
  const char* print = std::getenv("DAGRAD_PRINT_PLAN");
  if (print) defaults.num_streams = std::max(1, std::atoi(print));
  ExecutionPlan best = compile(t.g, t.outputs, defaults);
  EXPECT_LT(best.num_kernels(), base.num_kernels());
  EXPECT_LT(best.arena_bytes, base.arena_bytes);
  if (print) std::cout << best.to_table();
  std::cout << "training step: " << base.summary() << "\n           -> " << best.summary() << "\n";
}

}  // namespace
}  // namespace dagrad::scheduler::testing
