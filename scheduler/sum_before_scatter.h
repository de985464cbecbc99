// A graph-to-graph rewrite for the backward graph: a sum over every axis but the
// channel axis (1) of a scatter's output (an op with the scatters_input0 flag: max
// pooling's gradient) reads the scattered values instead, sum(scatter(g), axes) ->
// sum(g, axes). The scatter adds each element of g into one element of its own channel
// and writes nothing else, so the two sums are the same sum of the same numbers, added
// in another order (float32 rounding aside). A convolution's bias gradient is such a sum:
// it then reads max pooling's gradient before the scatter (a quarter of the elements of a
// 2x2 pool), and the scattered gradient is left to the convolution's products alone, which
// lets the mixed-precision pass produce it in 16 bits (scheduler/mixed_precision.h).
//
// Run it on the graph after autograd and before the mixed-precision pass (the Trainer
// does, for its training graph: CompileOptions::sum_before_scatter).
#pragma once
#include "ops/graph.h"

namespace dagrad::scheduler {

// Rewrites `g` in place; returns how many sums now read the values before their scatter.
int sum_before_scatter(Graph& g);

}  // namespace dagrad::scheduler
