// The mixed-precision pass (DESIGN.md, "Scheduler"): a graph-to-graph rewrite that gives
// every GEMM and convolution its operands in a 16-bit float (bfloat16; float16 works the
// same way but, without loss scaling, small gradients underflow). Each float32 value an
// op lists in its low_precision_inputs becomes `cast(value, low)`, one cast per value
// shared by all its readers: a weight is cast once per step and its forward and both
// backward products read that copy; an activation is cast once for the forward product
// and the weight gradient. Those ops accumulate in float32 and return float32, so nothing
// else changes: softmax, losses, normalisation statistics, reductions and optimizer
// updates run in float32 on float32 values, and parameters and optimizer state stay
// float32 (master weights). The casts are ordinary nodes: plans show them, fusion folds
// them into neighbouring elementwise groups and epilogues, the memory plan counts their
// smaller buffers. With bfloat16, an input read only for its sign (sign_only_inputs:
// relu_backward's activation) reads the copy already made of that value, so the float32
// activation is not kept for the backward pass. A value that only products read, made by
// an op that only moves its input's values (OpDef::moves_input0: max pooling's gradient
// when its windows do not overlap), is made again from its input's copy instead of being
// cast: cast(scatter(g)) = scatter(cast(g)) bit for bit, and the scatter then writes 16-bit
// values, without the float32 tensor or the cast's pass over it (its float32 readers, as a
// bias gradient's sum, must read elsewhere first: scheduler/sum_before_scatter.h). A view
// (reshape: flags.view and moves_input0) is always made again from its input's copy,
// whoever else reads it: a value read by one product directly and by another through a
// reshape (a linear layer's input and its weight gradient) is then cast once, and the cast
// reads the producer's output itself, so fusion can fold it into the producer. The pass
// decides by the ops' low_precision_inputs, sign_only_inputs, moves_input0 and view flag,
// never by names.
//
// Run it after autograd and before the optimizer's update nodes are added (the Trainer
// does): a cast must read a weight before its update overwrites it, which the graph
// orders only for readers that exist when the update is added.
#pragma once
#include "ops/graph.h"

namespace dagrad::scheduler {

struct MixedPrecisionResult {
  int casts = 0;     // cast nodes added
  int products = 0;  // GEMM/convolution nodes rewired
  int masks = 0;     // nodes reading a sign-only input from its bfloat16 copy instead
  int moved = 0;     // values made again from their input's copy instead of cast
};

// Rewrites `g` in place; `low` is bfloat16 or float16 (ValueError otherwise, and when a
// value to cast is already written in place by an update node: apply the pass earlier).
// move_casts = false: every copy is a cast (to compare against).
MixedPrecisionResult apply_mixed_precision(Graph& g, DType low, bool move_casts = true);

// The GEMM/convolution nodes that still multiply float32 operands: what the pass would
// rewrite. compile() refuses a plan whose CompileOptions::precision asks for 16-bit
// products when there are any.
std::vector<int> float32_products(const Graph& g);

}  // namespace dagrad::scheduler
