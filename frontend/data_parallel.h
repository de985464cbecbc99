// Data-parallel training over the ranks of comm::world(): every rank runs the same
// training graph on its slice of each global batch; the parameter gradients are averaged
// across ranks by allreduce_mean nodes, one per bucket of gradients, before the optimizer
// updates. Each update reads its bucket's averaged gradients, so it waits only for its
// own bucket, and the scheduler runs the all-reduces on the communication stream while
// the rest of backward goes on.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "ops/graph.h"
#include "ops/interpreter.h"

namespace dagrad {

struct GradBucket {
  std::vector<int> grads;  // indices into the gradient list, in the order they are produced
  int64_t bytes = 0;
};

// Groups gradients into buckets in the order backward produces them (their producers'
// node ids, ascending). A bucket is closed before a gradient that would take it past
// `bucket_bytes`, so it holds at most that much unless one gradient alone is larger.
// Invalid gradients (none flows to the parameter) are left out. bucket_bytes must be > 0.
std::vector<GradBucket> bucket_gradients(std::span<const Value> grads, int64_t bucket_bytes);

// Appends one allreduce_mean node over `c` per bucket (named "allreduce_bucket<i>") and
// returns the averaged gradient for each entry of `grads` (invalid entries stay invalid).
std::vector<Value> allreduce_gradients(std::span<const Value> grads, int64_t bucket_bytes, comm::Communicator& c);

// Makes rank `rank`'s random masks (dropout's) those of the global batch: each node
// that draws random numbers per element continues its element indices from
// rank·(its element count), as the rank's batch is the rank-th contiguous slice of the
// global one. Call before autograd, whose dropout vjps copy the attributes.
void offset_random_ops_for_rank(Graph& g, int rank);

// Rank 0's values of every tensor in `state` (host memory) to every rank, in the order
// of their names, so that all ranks start from the same parameters.
void broadcast_state(TensorMap& state, comm::Communicator& c);

// Threads per rank that do not oversubscribe the machine: hardware threads divided by
// the ranks of the job on this machine, at least 1.
int threads_per_local_rank(int hardware_threads, int local_ranks);

}  // namespace dagrad
