// A graph-to-graph rewrite for the training graph: an activation that commutes with a
// max (CompileOptions::commute_max; relu, by its op's commutes_with_max flag) and feeds
// only a max-selecting op (selects_max: max pooling) moves after it,
// max_pool(relu(z)) -> relu(max_pool(z)). The values are the same bit for bit (relu is
// non-decreasing, so the largest element maps to the largest), and so are the gradients:
// where relu merges values (all of a window at or below zero) its derivative is zero
// either way. (A NaN is the exception: relu maps it to zero, max pooling passes it on;
// --check-numerics stops such a run either way.) What changes is what the backward pass keeps: relu's mask is the
// pooled value instead of the full-size activation, and max pooling's gradient reads its own index output, so the
// full-size value is dropped right after pooling instead of living until the gradient reaches it.
//
// Run it on the forward graph before autograd (the Trainer does, for its training graph
// only: in evaluation relu runs free in the convolution's epilogue). The rewritten nodes
// stay in the graph unread, so request outputs by the Values taken after the rewrite.
#pragma once
#include "ops/graph.h"

namespace dagrad::scheduler {

// Rewrites `g` in place; returns how many activations moved.
int commute_max(Graph& g);

}  // namespace dagrad::scheduler
