// allreduce_mean as an op, in one process (the test binary is not started by mpirun):
// the mean over a world of one rank is each input unchanged, its gradient is the
// incoming gradient (checked against finite differences in float64), and the node carries
// its communicator. Several ranks: tests/comm/mpi_test.cpp; CUDA: tests/cuda/allreduce_test.cpp.
#include <gtest/gtest.h>

#include "autograd/grad.h"
#include "comm/collective_ops.h"
#include "finite_diff.h"
#include "ops/ops.h"
#include "runtime/rng.h"

using namespace dagrad;

namespace {

Tensor random_tensor(const Shape& s, DType dt, uint64_t seed) {
  Tensor t = Tensor::empty(s, DType::f64);
  Generator gen(seed);
  fill_uniform(t, gen, -1.0, 1.0);
  return t.to_dtype(dt);
}

}  // namespace

TEST(AllreduceMean, OneRankIsTheIdentity) {
  for (DType dt : {DType::f32, DType::f64}) {
    Graph g;
    const std::vector<Shape> shapes{Shape{4}, Shape{2, 3, 3}, Shape{}};
    std::vector<Value> ins;
    TensorMap bind;
    for (size_t i = 0; i < shapes.size(); ++i) {
      ins.push_back(g.input(str_cat("x", i), shapes[i], dt));
      bind[str_cat("x", i)] = random_tensor(shapes[i], dt, 11 + i);
    }
    std::vector<Value> outs = comm::allreduce_mean(ins, comm::world(), "bucket");
    ASSERT_EQ(outs.size(), 3u);
    EXPECT_EQ(g.node("bucket").params<comm::AllreduceParams>().comm, &comm::world());
    EXPECT_EQ(g.node("bucket").op->kind, OpKind::collective);
    EXPECT_TRUE(g.node("bucket").op->flags.comm_stream);
    std::vector<Tensor> got = interpret(g, outs, bind);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].dtype(), dt);
      EXPECT_EQ(got[i].to_dtype(DType::f64).to_vector<double>(),
                bind.at(str_cat("x", i)).to_dtype(DType::f64).to_vector<double>());
    }
  }
}

TEST(AllreduceMean, GradientMatchesFiniteDifferences) {
  Graph g;
  Value x = g.input("x", Shape{3, 4}, DType::f64), w = g.input("w", Shape{3, 4}, DType::f64);
  Value y = comm::allreduce_mean({x * x}, comm::world())[0];
  Value loss = sum(y * w);
  std::vector<Value> grads = autograd::grad(g, loss, {x});
  int collectives = 0;  // the forward's, and the vjp's: the mean over ranks is its own adjoint
  for (size_t id = 0; id < g.num_nodes(); ++id) collectives += g.node(static_cast<int>(id)).op->kind == OpKind::collective;
  EXPECT_EQ(collectives, 2);
  TensorMap bind{{"x", random_tensor(Shape{3, 4}, DType::f64, 5)}, {"w", random_tensor(Shape{3, 4}, DType::f64, 6)}};
  std::vector<Tensor> got = dagrad::testing::run(g, grads, bind);
  EXPECT_TRUE(dagrad::testing::matches_finite_differences(g, loss, bind, "x", got[0], dagrad::testing::sample_indices(12, 12, 1)));
}

TEST(AllreduceMean, Errors) {
  Graph g;
  Value i = g.input("i", Shape{2}, DType::i64), f = g.input("f", Shape{2}), d = g.input("d", Shape{2}, DType::f64);
  EXPECT_THROW(comm::allreduce_mean({i}, comm::world()), TypeError);
  EXPECT_THROW(comm::allreduce_mean({f, d}, comm::world()), TypeError);
  EXPECT_THROW(comm::allreduce_mean({}, comm::world()), GraphError);
}
