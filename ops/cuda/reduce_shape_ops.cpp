// CUDA kernels of the reduce and shape families and of the sources: the same geometry
// as the CPU kernels (coalesced dims, [outer, n, inner] axis views), launched through
// reduce.cu, copy.cu and thrust_ops.cu.
#include <cuda_runtime_api.h>

#include "ops/builtin_ops.h"
#include "ops/cuda/glue.h"
#include "ops/params/shape.h"
#include "ops/params/source.h"
#include "ops/shape_util.h"
#include "runtime/convert.h"
#include "runtime/cuda/cuda_check.h"

namespace dagrad::cuda {

namespace {

// ---- reductions ----

// The input with size-1 dims dropped and neighbours of the same kind merged (as the CPU
// coalesces), split into the kept dims (the outputs) and the reduced ones.
ReduceGeom reduce_geom(const Shape& x, const std::vector<bool>& mask, const char* who) {
  std::vector<int64_t> n;
  std::vector<bool> red;
  for (size_t d = 0; d < x.rank(); ++d) {
    if (x[d] == 1) continue;
    if (!n.empty() && red.back() == mask[d]) {
      n.back() *= x[d];
    } else {
      n.push_back(x[d]);
      red.push_back(mask[d]);
    }
  }
  std::vector<int64_t> stride(n.size());
  for (size_t d = n.size(), acc = 1; d-- > 0;) stride[d] = static_cast<int64_t>(acc), acc *= n[d];
  std::vector<int64_t> kept_n, kept_s, red_n, red_s;
  for (size_t d = 0; d < n.size(); ++d) {
    (red[d] ? red_n : kept_n).push_back(n[d]);
    (red[d] ? red_s : kept_s).push_back(stride[d]);
  }
  ReduceGeom g;
  g.kept = make_view(kept_n, kept_s, who);
  g.reduced = make_view(red_n, red_s, who);
  for (int64_t v : kept_n) g.outs *= v;
  for (int64_t v : red_n) g.nred *= v;
  g.inner_reduced = !red.empty() && red.back();
  return g;
}

void reduce(const KernelContext& ctx, ReduceOp op, const std::vector<bool>& mask, double scale, const char* who) {
  const Tensor& x = ctx.inputs[0];
  Tensor& out = ctx.outputs[0];
  const ReduceGeom g = reduce_geom(x.shape(), mask, who);
  CudaStream& stream = stream_of(ctx);
  const size_t ws = reduce_workspace_bytes(g);
  void* workspace = ws ? stream.workspace(ws) : nullptr;
  dispatch_floating(x.dtype(), who, [&]<class T>() {
    launch_reduce<T>(op, x.data<T>(), out.data<T>(), g, scale, workspace, stream.handle());
  });
}

std::vector<bool> node_mask(const KernelContext& ctx) {
  return reduce_mask(ctx.inputs[0].shape(), ctx.params<AxesParams>().axes, ctx.node.op_name());
}

void sum_cuda(const KernelContext& ctx) { reduce(ctx, ReduceOp::sum, node_mask(ctx), 1.0, "sum"); }

void mean_cuda(const KernelContext& ctx) {
  const std::vector<bool> mask = node_mask(ctx);
  const Shape& s = ctx.inputs[0].shape();
  int64_t count = 1;
  for (size_t d = 0; d < s.rank(); ++d)
    if (mask[d]) count *= s[d];
  reduce(ctx, ReduceOp::sum, mask, 1.0 / static_cast<double>(count), "mean");
}

void max_cuda(const KernelContext& ctx) { reduce(ctx, ReduceOp::max, node_mask(ctx), 1.0, "max"); }
void prod_cuda(const KernelContext& ctx) { reduce(ctx, ReduceOp::prod, node_mask(ctx), 1.0, "prod"); }

// The leading dims broadcasting added and the dims it expanded from 1.
void sum_to_cuda(const KernelContext& ctx) {
  const Shape& s = ctx.inputs[0].shape();
  const Shape& to = ctx.outputs[0].shape();
  const size_t lead = s.rank() - to.rank();
  std::vector<bool> mask(s.rank(), true);
  for (size_t d = lead; d < s.rank(); ++d) mask[d] = to[d - lead] != s[d];
  reduce(ctx, ReduceOp::sum, mask, 1.0, "sum_to");
}

// ---- along one axis ----

template <bool kLog>
void softmax_cuda(const KernelContext& ctx) {
  const char* who = kLog ? "log_softmax" : "softmax";
  const Tensor& x = ctx.inputs[0];
  const AxisView v = view_along(x.shape(), ctx.params<AxisParams>().axis, who);
  dispatch_floating(x.dtype(), who, [&]<class T>() {
    launch_softmax<T>(x.data<T>(), ctx.outputs[0].data<T>(), v.outer, v.n, v.inner, kLog, handle_of(ctx));
  });
}

void argmax_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const AxisView v = view_along(x.shape(), ctx.params<AxisParams>().axis, "argmax");
  dispatch_floating(x.dtype(), "argmax", [&]<class T>() {
    launch_argmax<T>(x.data<T>(), ctx.outputs[0].data<int64_t>(), v.outer, v.n, v.inner, handle_of(ctx));
  });
}

// ---- copies ----

// y (contiguous) = the view of x's bytes from `offset` elements with `strides` per y dim.
void gather(const KernelContext& ctx, int64_t offset, const std::vector<int64_t>& strides, const char* who) {
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  const size_t es = dtype_size(x.dtype());
  const StridedView v = make_view(dims_of(y.shape()), strides, who);
  launch_strided_copy(static_cast<const char*>(x.raw_data()) + offset * static_cast<int64_t>(es), v, y.raw_data(),
                      y.numel(), static_cast<int>(es), handle_of(ctx));
}

void copy_bytes(const KernelContext& ctx, const Tensor& from, Tensor& to) {
  if (to.nbytes() == 0 || to.raw_data() == from.raw_data()) return;
  DAGRAD_CUDA_CHECK(
      cudaMemcpyAsync(to.raw_data(), from.raw_data(), to.nbytes(), cudaMemcpyDeviceToDevice, handle_of(ctx)));
}

void reshape_cuda(const KernelContext& ctx) { copy_bytes(ctx, ctx.inputs[0], ctx.outputs[0]); }

void permuted(const KernelContext& ctx, const std::vector<int>& perm, const char* who) {
  const std::vector<int64_t> in_strides = ctx.inputs[0].shape().strides();
  std::vector<int64_t> strides(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) strides[d] = in_strides[perm[d]];
  gather(ctx, 0, strides, who);
}

void transpose_cuda(const KernelContext& ctx) {
  const Shape& s = ctx.inputs[0].shape();
  std::vector<int> perm(s.rank());
  for (size_t d = 0; d < perm.size(); ++d) perm[d] = static_cast<int>(d);
  const TransposeParams& p = ctx.params<TransposeParams>();
  std::swap(perm[normalize_axis(s, p.dim0, "transpose")], perm[normalize_axis(s, p.dim1, "transpose")]);
  permuted(ctx, perm, "transpose");
}

void permute_cuda(const KernelContext& ctx) {
  std::vector<int> perm;
  for (int64_t p : ctx.params<PermuteParams>().perm) perm.push_back(normalize_axis(ctx.inputs[0].shape(), p, "permute"));
  permuted(ctx, perm, "permute");
}

void slice_cuda(const KernelContext& ctx) {
  const Shape& s = ctx.inputs[0].shape();
  const SliceParams& p = ctx.params<SliceParams>();
  const int axis = normalize_axis(s, p.axis, "slice");
  int64_t start = p.start;
  if (start < 0) start += s[axis];
  const std::vector<int64_t> strides = s.strides();
  gather(ctx, start * strides[axis], strides, "slice");
}

// Viewed as [outer, axis·inner], each input is a block of columns of every output row:
// one 2-D copy per input.
void concat_cuda(const KernelContext& ctx) {
  Tensor& y = ctx.outputs[0];
  const int axis = normalize_axis(y.shape(), ctx.params<ConcatParams>().axis, "concat");
  const AxisView v = view_along(y.shape(), axis, "concat");
  const size_t es = dtype_size(y.dtype()), dst_row = static_cast<size_t>(v.n * v.inner) * es;
  size_t col = 0;
  for (const Tensor& x : ctx.inputs) {
    const size_t row = static_cast<size_t>(x.shape()[axis] * v.inner) * es;
    if (row > 0 && v.outer > 0)
      DAGRAD_CUDA_CHECK(cudaMemcpy2DAsync(static_cast<char*>(y.raw_data()) + col, dst_row, x.raw_data(), row, row,
                                          static_cast<size_t>(v.outer), cudaMemcpyDeviceToDevice, handle_of(ctx)));
    col += row;
  }
}

void broadcast_to_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& y = ctx.outputs[0];
  const size_t lead = y.rank() - x.rank();
  const std::vector<int64_t> in_strides = x.shape().strides();
  std::vector<int64_t> strides(y.rank(), 0);
  for (size_t d = lead; d < y.rank(); ++d) strides[d] = x.shape()[d - lead] == 1 ? 0 : in_strides[d - lead];
  gather(ctx, 0, strides, "broadcast_to");
}

// ---- sources ----

// From the host copy the node holds (ordered on the stream; small tensors).
void constant_cuda(const KernelContext& ctx) {
  const Tensor& v = ctx.params<ConstantParams>().value;
  if (v.nbytes())
    DAGRAD_CUDA_CHECK(cudaMemcpyAsync(ctx.outputs[0].raw_data(), v.raw_data(), v.nbytes(), cudaMemcpyHostToDevice,
                                      handle_of(ctx)));
}

void full_cuda(const KernelContext& ctx) {
  Tensor& y = ctx.outputs[0];
  const double value = ctx.params<FillParams>().value;
  dispatch_all(y.dtype(),
               [&]<class T>() { launch_fill<T>(y.data<T>(), y.numel(), convert<T>(value), handle_of(ctx)); });
}

}  // namespace

void fill_reduce_shape(KernelTable& t) {
  t.set(*op::sum, sum_cuda);
  t.set(*op::mean, mean_cuda);
  t.set(*op::max, max_cuda);
  t.set(*op::prod, prod_cuda);
  t.set(*op::sum_to, sum_to_cuda);
  t.set(*op::broadcast_to, broadcast_to_cuda);
  t.set(*op::softmax, softmax_cuda<false>);
  t.set(*op::log_softmax, softmax_cuda<true>);
  t.set(*op::argmax, argmax_cuda);
  t.set(*op::reshape, reshape_cuda);
  t.set(*op::transpose, transpose_cuda);
  t.set(*op::permute, permute_cuda);
  t.set(*op::slice, slice_cuda);
  t.set(*op::concat, concat_cuda);
  t.set(*op::full, full_cuda);
  t.set(*op::constant, constant_cuda);
}

}  // namespace dagrad::cuda
