// Collective ops: allreduce_mean averages its inputs over the ranks of the process's
// communicator (comm::world()). The trainer puts one node per gradient bucket between
// backward and the optimizer updates; the scheduler runs these nodes on a stream of
// their own (CompileOptions::comm_ops), in program order on every rank.
#include <cstring>
#include <vector>

#include "comm/communicator.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/registry.h"

namespace dagrad {

namespace {

std::vector<TensorType> infer_allreduce(const InferContext& c) {
  if (c.inputs.empty()) c.fail("expects at least one tensor");
  for (size_t i = 0; i < c.inputs.size(); ++i) c.expect_floating(i);
  c.expect_same_dtype();
  return {c.inputs.begin(), c.inputs.end()};
}

// out_i = (sum over ranks of in_i) / world. The inputs are packed into one buffer so
// that a bucket costs one collective, whatever its number of tensors.
void allreduce_mean_cpu(const KernelContext& ctx) {
  comm::Communicator& world = comm::world();
  const size_t n = ctx.inputs.size();
  if (world.world_size() == 1) {
    for (size_t i = 0; i < n; ++i)
      if (ctx.inputs[i].nbytes()) std::memcpy(ctx.outputs[i].raw_data(), ctx.inputs[i].raw_data(), ctx.inputs[i].nbytes());
    return;
  }
  dispatch_floating(ctx.inputs[0].dtype(), "allreduce_mean", [&]<class T>() {
    int64_t total = 0;
    for (const Tensor& t : ctx.inputs) total += t.numel();
    // Kept between steps: the communication stream is one thread, and buckets repeat.
    thread_local std::vector<T> packed;
    packed.resize(static_cast<size_t>(total));
    int64_t off = 0;
    for (const Tensor& t : ctx.inputs) {
      std::memcpy(packed.data() + off, t.data<T>(), t.nbytes());
      off += t.numel();
    }
    world.allreduce_sum(packed.data(), total, ctx.inputs[0].dtype(), ctx.stream);
    const T scale = T(1) / static_cast<T>(world.world_size());
    off = 0;
    for (size_t i = 0; i < n; ++i) {
      T* out = ctx.outputs[i].data<T>();
      for (int64_t j = 0, m = ctx.outputs[i].numel(); j < m; ++j) out[j] = packed[off + j] * scale;
      off += ctx.outputs[i].numel();
    }
  });
}

// The mean over ranks is its own adjoint: with L the sum of every rank's loss,
// dL/dx(rank s) = (1/N) * sum over ranks r of dL/dy(r).
std::vector<Value> vjp_allreduce(const VjpContext& c) {
  std::vector<Value> gs;
  for (size_t i = 0; i < c.outputs.size(); ++i)
    gs.push_back(c.grad_outputs[i].valid() ? c.grad_outputs[i] : zeros_like(c.outputs[i]));
  return apply_multi("allreduce_mean", gs);
}

Cost allreduce_cost(const Node& n) {
  double bytes = 0;
  for (const Value& v : n.inputs) bytes += static_cast<double>(v.shape().numel() * dtype_size(v.dtype()));
  return Cost{bytes / 4, 2 * bytes, 2 * bytes};
}

}  // namespace

void register_comm_ops(OpRegistry& r) {
  OpDef d;
  d.name = "allreduce_mean";
  d.infer = infer_allreduce;
  d.kernels[0] = allreduce_mean_cpu;
  d.vjp = vjp_allreduce;
  d.cost = allreduce_cost;
  d.doc = "mean of each input over the ranks of the data-parallel job (identity in one process)";
  r.add(std::move(d));
}

}  // namespace dagrad
