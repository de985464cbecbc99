// Reductions give bit-identical results for any thread count: each output is folded in
// an order fixed by the shapes alone (full reductions sum fixed-size block partials).
#include <gtest/gtest.h>

#include "op_cases.h"
#include "ops/interpreter.h"
#include "ops/ops.h"

using namespace dagrad;
using namespace dagrad::testing;

TEST(ReduceShapeDeterminism, AnyThreadCount) {
  Graph g;
  Value a = g.input("a", {300, 701}), b = g.input("b", {64, 32, 7, 7}), c = g.input("c", {3, 40000});
  Value d = g.input("d", {20000, 7});
  TensorMap bind{{"a", random_tensor(a.shape(), DType::f32, 1)},
                 {"b", random_tensor(b.shape(), DType::f32, 2)},
                 {"c", random_tensor(c.shape(), DType::f32, 3)},
                 {"d", random_tensor(d.shape(), DType::f32, 4)}};
  std::vector<Value> outs = {sum(a),
                             mean(a, {1}),
                             max(a, {0}),
                             sum(c, {0}),
                             sum(c, {1}),
                             sum_to(b, {32, 1, 1}),
                             mean(b, {0, 2, 3}),
                             softmax(a, 0),
                             log_softmax(a),
                             argmax(a, 0),
                             transpose(b, 1, 3),
                             permute(b, {2, 0, 3, 1}),
                             concat({a, a}, 1),
                             slice(b, 1, 3, 30),
                             sum(d, {0}),
                             max(d, {0})};
  expect_same_for_thread_counts(g, outs, bind);
}
