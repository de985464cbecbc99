// A graph-to-graph rewrite: max_pool2d of a conv2d whose output nothing else reads becomes
// one conv2d_max_pool2d node (ops/ops.h), whose kernels pool each chunk of images while it
// is still in cache instead of storing the full-size convolution output and reading it
// back (CompileOptions::fuse_conv_pool). The results are the same bit for bit: the same
// convolution kernels run per image, then the same pooling. Apply it to a graph that
// autograd and the mixed-precision pass are done with (the Trainer does, to its training
// and evaluation graphs). The replaced nodes stay in the graph unread.
#pragma once
#include <span>

#include "ops/graph.h"

namespace dagrad::scheduler {

// Rewrites `g` in place; returns how many pairs were fused. `outputs` are every value the
// caller will request (the nodes with effects count as needed too): a reader that none of
// them needs does not count, and pairs whose own values are requested stay as they are (a
// requested Value cannot be redirected).
int fuse_conv_pool(Graph& g, std::span<const Value> outputs);

}  // namespace dagrad::scheduler
