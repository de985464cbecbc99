// Fused attention's memory grows linearly with the sequence length; the composed form's
// ([L,S] scores, probabilities and their gradients) quadratically. Checked on the planned
// arena of a training-like graph (forward, loss, backward) at L = 64, 256 and 1024: a
// property of the plan, known before anything runs.
#include <gtest/gtest.h>

#include "autograd/grad.h"
#include "ops/ops.h"
#include "scheduler/compile.h"

namespace dagrad::scheduler::testing {
namespace {

size_t planned_arena(int64_t l, bool fused) {
  constexpr int64_t kBatch = 2, kHeads = 2, kDim = 16;
  Graph g;
  const Shape shape{kBatch, kHeads, l, kDim};
  Value q = g.input("q", shape), k = g.input("k", shape), v = g.input("v", shape), w = g.input("w", shape);
  Value out = fused ? scaled_dot_product_attention(q, k, v, {}, 0, true)
                    : scaled_dot_product_attention_composed(q, k, v);
  Value loss = sum(out * w);
  std::vector<Value> outputs = autograd::grad(g, loss, {q, k, v});
  outputs.push_back(loss);
  return compile(g, outputs).arena_bytes;
}

TEST(AttentionMemory, FusedGrowsLinearlyWithLength) {
  const size_t a64 = planned_arena(64, true), a256 = planned_arena(256, true), a1024 = planned_arena(1024, true);
  // Activations and gradients are [2,2,L,16] floats (and [2,2,L] row statistics): 4x per 4x.
  EXPECT_LE(a256, 5 * a64);
  EXPECT_LE(a1024, 5 * a256);
  // Well below one [2,2,L,L] float32 score tensor at L = 1024 (16 MiB).
  EXPECT_LT(a1024, size_t{2 * 2 * 1024 * 1024 * 4} / 8);
}

TEST(AttentionMemory, ComposedGrowsWithTheSquare) {
  const size_t a256 = planned_arena(256, false), a1024 = planned_arena(1024, false);
  EXPECT_GE(a1024, 12 * a256);
  EXPECT_GE(a1024, size_t{2 * 2 * 1024 * 1024 * 4});  // at least one [N,H,L,L] float tensor
  EXPECT_GT(a1024, 20 * planned_arena(1024, true));
}

}  // namespace
}  // namespace dagrad::scheduler::testing
