#include "comm/collective_ops.h"

#include <cstring>
#include <vector>

#include "ops/kernel_table.h"
#include "ops/ops.h"
#include "ops/registry.h"

namespace dagrad::comm {

namespace {

std::vector<TensorType> infer_allreduce(const InferContext& c) {
  if (c.inputs.empty()) c.fail("expects at least one tensor");
  for (size_t i = 0; i < c.inputs.size(); ++i) c.expect_floating(i);
  c.expect_same_dtype();
  if (!c.params<AllreduceParams>().comm) c.fail("has no communicator");
  return {c.inputs.begin(), c.inputs.end()};
}

// out_i = (sum over ranks of in_i) / world. The inputs are packed into one buffer so
// that a bucket costs one collective, whatever its number of tensors.
void allreduce_mean_cpu(const KernelContext& ctx) {
  Communicator& world = *ctx.params<AllreduceParams>().comm;
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
  return allreduce_mean(gs, *c.node.params<AllreduceParams>().comm);
}

Cost allreduce_cost(const Node& n) {
  double bytes = 0;
  for (const Value& v : n.inputs) bytes += static_cast<double>(v.shape().numel() * dtype_size(v.dtype()));
  return Cost{bytes / 4, 2 * bytes, 2 * bytes};
}

}  // namespace

const OpDef& allreduce_mean_op() {
  static const OpDef& op = [] () -> const OpDef& {
    const OpDef& d = OpRegistry::instance().add(
        {.name = "allreduce_mean",
         .kind = OpKind::collective,
         .flags = {.comm_stream = true},
         .params = supplied_params<AllreduceParams>(),
         .infer = infer_allreduce,
         .vjp = vjp_allreduce,
         .cost = allreduce_cost,
         .doc = "mean of each input over the ranks of the node's communicator (identity in one process)"});
    mutable_kernel_table(DeviceType::cpu).set(d, allreduce_mean_cpu);
    fill_cuda_collectives(mutable_kernel_table(DeviceType::cuda), d);
    return d;
  }();
  return op;
}

std::vector<Value> allreduce_mean(std::vector<Value> xs, Communicator& c, std::string name,
                                  const std::source_location& loc) {
  if (xs.empty() || !xs[0].valid()) throw GraphError("[allreduce_mean] needs at least one valid input");
  Graph& g = *xs[0].graph;
  auto params = std::make_shared<const AllreduceParams>(AllreduceParams{&c});
  int id = g.add_node(allreduce_mean_op(), std::move(xs), {}, std::move(params), std::move(name), loc);
  std::vector<Value> outs;
  for (size_t i = 0; i < g.node(id).outputs.size(); ++i) outs.push_back(g.node(id).output(static_cast<int>(i)));
  return outs;
}

}  // namespace dagrad::comm
