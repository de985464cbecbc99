#include "frontend/data_parallel.h"

#include <algorithm>
#include <string>
#include <utility>

#include "comm/collective_ops.h"
#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad {

std::vector<GradBucket> bucket_gradients(std::span<const Value> grads, int64_t bucket_bytes) {
  if (bucket_bytes <= 0) throw ValueError(str_cat("gradient bucket size must be positive, got ", bucket_bytes, " bytes"));
  std::vector<int> order;
  for (size_t i = 0; i < grads.size(); ++i)
    if (grads[i].valid()) order.push_back(static_cast<int>(i));
  // Backward appends nodes as it produces gradients, so node ids give that order.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return grads[a].node < grads[b].node; });
  std::vector<GradBucket> buckets;
  GradBucket cur;
  for (int i : order) {
    int64_t bytes = grads[i].shape().numel() * static_cast<int64_t>(dtype_size(grads[i].dtype()));
    if (!cur.grads.empty() && cur.bytes + bytes > bucket_bytes) buckets.push_back(std::exchange(cur, {}));
    cur.grads.push_back(i);
    cur.bytes += bytes;
  }
  if (!cur.grads.empty()) buckets.push_back(std::move(cur));
  return buckets;
}

std::vector<Value> allreduce_gradients(std::span<const Value> grads, int64_t bucket_bytes, comm::Communicator& c) {
  std::vector<Value> reduced(grads.begin(), grads.end());
  std::vector<GradBucket> buckets = bucket_gradients(grads, bucket_bytes);
  for (size_t b = 0; b < buckets.size(); ++b) {
    std::vector<Value> ins;
    for (int i : buckets[b].grads) ins.push_back(grads[i]);
    std::vector<Value> outs = comm::allreduce_mean(ins, c, str_cat("allreduce_bucket", b));
    for (size_t k = 0; k < outs.size(); ++k) reduced[buckets[b].grads[k]] = outs[k];
  }
  return reduced;
}

void offset_random_ops_for_rank(Graph& g, int rank) {
  for (size_t id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(static_cast<int>(id));
    if (n.op->flags.random)
      g.set_attr(n.id, "offset", static_cast<int64_t>(rank) * n.outputs[0].shape.numel());
  }
}

void broadcast_state(TensorMap& state, comm::Communicator& c) {
  if (c.world_size() == 1) return;
  std::vector<std::string> names;
  for (const auto& [name, t] : state) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    Tensor& t = state.at(name);
    if (!t.device().is_cpu())
      throw DeviceError(str_cat("broadcast_state: '", name, "' is on ", t.device().to_string(),
                                "; broadcast host tensors before moving them"));
    c.broadcast(t.raw_data(), static_cast<int64_t>(t.nbytes()), 0);
  }
}

int threads_per_local_rank(int hardware_threads, int local_ranks) {
  return std::max(1, hardware_threads / std::max(1, local_ranks));
}

}  // namespace dagrad
