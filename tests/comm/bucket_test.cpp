// Gradient buckets: their boundaries, that every gradient is in exactly one, and that in
// the compiled training step each optimizer update waits only for its own bucket's
// all-reduce, which runs on the communication stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "frontend/data_parallel.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/graph.h"
#include "ops/interpreter.h"
#include "ops/ops.h"
#include "runtime/rng.h"
#include "scheduler/executor.h"
#include "scheduler/session.h"

using namespace dagrad;

namespace {

// Values made in this order, so node ids say which gradient "backward" produced first.
std::vector<Value> made_in_order(Graph& g, const std::vector<int64_t>& floats) {
  std::vector<Value> v;
  for (size_t i = 0; i < floats.size(); ++i) v.push_back(g.input(str_cat("grad", i), Shape{floats[i]}));
  return v;
}

}  // namespace

TEST(GradBuckets, FillInProductionOrderUpToTheCap) {
  Graph g;
  std::vector<Value> made = made_in_order(g, {100, 50, 300, 10, 40, 110});  // 400, 200, 1200, 40, 160, 440 bytes
  // The gradient list is in parameter order, which differs from production order.
  std::vector<Value> grads{made[3], made[0], made[5], made[1], Value{}, made[2], made[4]};
  std::vector<GradBucket> b = bucket_gradients(grads, 600);
  // Production order 0,1,2,3,4,5 = list entries 1,3,5,0,6,2: [400+200] [1200 alone] [40+160] [440].
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].grads, (std::vector<int>{1, 3}));
  EXPECT_EQ(b[0].bytes, 600);
  EXPECT_EQ(b[1].grads, (std::vector<int>{5}));
  EXPECT_EQ(b[1].bytes, 1200);  // larger than the cap on its own
  EXPECT_EQ(b[2].grads, (std::vector<int>{0, 6}));
  EXPECT_EQ(b[2].bytes, 200);
  EXPECT_EQ(b[3].grads, (std::vector<int>{2}));
  // Every valid gradient in exactly one bucket; the invalid one in none.
  std::multiset<int> seen;
  for (const GradBucket& x : b) seen.insert(x.grads.begin(), x.grads.end());
  EXPECT_EQ(seen, (std::multiset<int>{0, 1, 2, 3, 5, 6}));

  EXPECT_EQ(bucket_gradients(grads, int64_t{1} << 20).size(), 1u);  // all in one
  EXPECT_EQ(bucket_gradients(grads, 1).size(), 6u);                  // one each
  EXPECT_THROW(bucket_gradients(grads, 0), ValueError);
}

TEST(GradBuckets, AllReduceNodesReplaceTheGradients) {
  Graph g;
  std::vector<Value> grads = made_in_order(g, {100, 50, 300});
  std::vector<Value> reduced = allreduce_gradients(grads, 600, comm::world());
  ASSERT_EQ(reduced.size(), 3u);
  const Node& first = reduced[0].producer();
  EXPECT_EQ(first.op_name(), "allreduce_mean");
  EXPECT_EQ(first.name, "allreduce_bucket0");
  EXPECT_EQ(reduced[1].node, reduced[0].node);  // same bucket, second output
  EXPECT_EQ(reduced[1].index, 1);
  EXPECT_EQ(reduced[2].producer().name, "allreduce_bucket1");
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_EQ(reduced[i].shape(), grads[i].shape());
}

// LeNet-5's training step with small buckets, two compute streams plus the communication one.
class DataParallelPlan : public ::testing::Test {
 protected:
  static TrainConfig config(bool comm_stream) {
    TrainConfig cfg;
    cfg.model_name = "lenet5";
    cfg.batch_size = 8;
    cfg.progress = false;
    cfg.allreduce_in_one_process = true;
    cfg.bucket_mb = 0.05;  // ~52 KB: LeNet-5's 61,706 parameters make several buckets
    cfg.compile.num_streams = 2;
    cfg.compile.comm_stream = comm_stream;
    return cfg;
  }
  static TensorMap batch() {
    return {{"images", Tensor::zeros(Shape{8, 1, 28, 28})},
            {"labels", Tensor::zeros(Shape{8}, DType::i64)},
            {"lr", Tensor::full(Shape{}, 0.01)}};
  }
};

TEST_F(DataParallelPlan, UpdatesWaitOnlyForTheirBucketOnTheCommStream) {
  std::ostringstream log;
  Trainer trainer(models::lenet5(), config(true), log);
  const scheduler::ExecutionPlan& plan = trainer.train_session().executor_for(batch()).plan();
  const Graph& g = *plan.graph;
  ASSERT_EQ(plan.num_streams, 3);
  const int comm = 2;

  std::map<int, int> bucket_step;  // all-reduce node -> its step
  for (const scheduler::Step& s : plan.steps) {
    if (!s.is_compute()) continue;
    bool is_allreduce = g.node(s.nodes[0]).op_name() == "allreduce_mean";
    EXPECT_EQ(s.stream == comm, is_allreduce) << "step " << s.index << " (" << g.node(s.nodes[0]).name << ")";
    if (is_allreduce) bucket_step[s.nodes[0]] = s.index;
  }
  ASSERT_GE(bucket_step.size(), 3u);
  // Buckets run in the order they were made (the order every rank issues them).
  int last = -1;
  for (auto& [node, step] : bucket_step) EXPECT_GT(step, std::exchange(last, step));

  // How far the communication stream must have got before step `s` may run on its
  // stream: the latest comm-stream step among the events that stream waited for so far.
  auto comm_known_before = [&](const scheduler::Step& s) {
    int known = -1;
    for (int w = 0; w < s.index; ++w) {
      const scheduler::Step& ws = plan.steps[w];
      if (ws.kind != scheduler::StepKind::wait || ws.stream != s.stream) continue;
      int producer = plan.events[ws.event].producer_step;
      if (plan.steps[producer].stream == comm) known = std::max(known, producer);
    }
    return known;
  };
  const int last_bucket = bucket_step.rbegin()->second;
  int updates = 0, free_of_last_bucket = 0;
  for (const scheduler::Step& s : plan.steps) {
    if (!s.is_compute() || g.node(s.nodes[0]).op_name() != "sgd_update") continue;
    ++updates;
    const Node& upd = g.node(s.nodes[0]);
    const Node& grad = upd.inputs[1].producer();
    ASSERT_EQ(grad.op_name(), "allreduce_mean") << upd.name << " reads an unreduced gradient";
    ASSERT_NE(s.stream, comm);
    // It runs after its bucket's all-reduce (an event orders them)...
    int known = comm_known_before(s);
    EXPECT_GE(known, bucket_step.at(grad.id)) << upd.name << " may run before its bucket is reduced";
    // ...and, for updates of earlier buckets, need not wait for the last one.
    if (known < last_bucket) ++free_of_last_bucket;
  }
  EXPECT_EQ(updates, 10);  // LeNet-5: 5 layers, weight and bias each
  EXPECT_GT(free_of_last_bucket, 0);
  // Backward does not wait for communication: no step other than an update depends on
  // the comm stream, so the compute streams never block on an all-reduce mid-backward.
  for (const scheduler::Step& s : plan.steps) {
    if (s.is_compute() && s.stream != comm && g.node(s.nodes[0]).op_name() != "sgd_update") {
      EXPECT_EQ(comm_known_before(s), -1) << g.node(s.nodes[0]).name << " waits for an all-reduce";
    }
  }
}

TEST_F(DataParallelPlan, WithoutTheCommStreamCollectivesStayOnStreamZero) {
  std::ostringstream log;
  Trainer trainer(models::lenet5(), config(false), log);
  const scheduler::ExecutionPlan& plan = trainer.train_session().executor_for(batch()).plan();
  EXPECT_EQ(plan.num_streams, 2);
  int collectives = 0;
  for (const scheduler::Step& s : plan.steps)
    if (s.is_compute() && plan.graph->node(s.nodes[0]).op_name() == "allreduce_mean") {
      EXPECT_EQ(s.stream, 0);
      ++collectives;
    }
  EXPECT_GE(collectives, 3);
}

// In one process the all-reduce nodes average over one rank: training with them gives
// the same losses and parameters, bit for bit, as training without.
TEST_F(DataParallelPlan, OneProcessTrainingIsUnchangedByTheAllReduce) {
  auto run = [&](bool allreduce) {
    TrainConfig cfg = config(true);
    cfg.allreduce_in_one_process = allreduce;
    std::ostringstream log;
    auto model = models::lenet5();
    const std::string first_param = nn::parameter_specs(*model).at(0).name;
    Trainer trainer(model, cfg, log);
    TensorMap in = batch();
    for (int64_t i = 0; i < 8; ++i) in["labels"].data<int64_t>()[i] = i % 10;
    for (int64_t i = 0; i < in["images"].numel(); ++i) in["images"].data<float>()[i] = float(i % 17) / 17.0f;
    std::vector<float> losses;
    for (int step = 0; step < 3; ++step) losses.push_back(trainer.train_session().run(in)[0].data<float>()[0]);
    return std::make_pair(losses, trainer.state().at(first_param).to_vector<float>());
  };
  auto [l0, w0] = run(false);
  auto [l1, w1] = run(true);
  EXPECT_EQ(l0, l1);
  EXPECT_EQ(w0, w1);
  EXPECT_NE(l0.front(), l0.back());  // it did train
}

// Rank r of N draws, for its rows r·B..(r+1)·B-1 of the global batch, exactly the
// dropout mask one process draws for those rows at batch N·B, in forward and backward.
TEST(DataParallelDropout, EachRankDrawsItsSliceOfTheGlobalMask) {
  for (int64_t features : {8, 7}) {  // 7: rank 1's first index is not a multiple of 4
    SCOPED_TRACE(str_cat(features, " features"));
    const int64_t ranks = 3, b = 5;
    Tensor x = Tensor::empty(Shape{ranks * b, features});
    Generator gen(4);
    fill_normal(x, gen, 0.0, 1.0);
    auto run = [](const Tensor& in, int rank) {
      Graph g;
      Value v = g.input("x", in.shape());
      Value y = dropout(v, 0.5, 17);
      if (rank >= 0) offset_random_ops_for_rank(g, rank);
      Value dx = apply("dropout", {y}, g.node(y.node).attrs);  // what the vjp builds
      std::vector<Value> outs{y, dx};
      return interpret(g, outs, {{"x", in}}, /*step=*/3);
    };
    const std::vector<Tensor> whole = run(x, -1);
    for (int rank = 0; rank < ranks; ++rank) {
      const std::vector<Tensor> mine = run(x.slice_rows(rank * b, (rank + 1) * b).clone(), rank);
      for (size_t k = 0; k < 2; ++k)
        EXPECT_EQ(mine[k].to_vector<float>(), whole[k].slice_rows(rank * b, (rank + 1) * b).clone().to_vector<float>())
            << "rank " << rank << (k ? " backward" : " forward");
    }
  }
}
