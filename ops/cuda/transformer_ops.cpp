// CUDA glue of the transformer ops: layer norm, gather and fused attention (kernels in
// ops/cuda/layer_norm.cu, gather.cu, attention.cu). Geometry comes from the ops' own
// parameter headers, as on the CPU.
#include "ops/builtin_ops.h"
#include "ops/cuda/glue.h"
#include "ops/cuda/transformer_kernels.h"
#include "ops/params/attention.h"
#include "ops/params/index.h"
#include "ops/params/norm.h"
#include "runtime/error.h"

namespace dagrad::cuda {

namespace {

template <class P>
RowGeom row_geom_of(const KernelContext& ctx, const Tensor& x) {
  return row_geom(x.shape(), layer_norm_first_dim(x.shape(), ctx.params<P>().axis));
}

void layer_norm_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const bool has_gamma = ctx.inputs.size() > 1, has_beta = ctx.inputs.size() > 2;
  dispatch_floating(x.dtype(), "layer_norm", [&]<class T>() {
    launch_layer_norm<T>(row_geom_of<LayerNormParams>(ctx, x), x.data<T>(),
                         has_gamma ? ctx.inputs[1].data<T>() : nullptr, has_beta ? ctx.inputs[2].data<T>() : nullptr,
                         ctx.outputs[0].data<T>(), ctx.outputs[1].data<T>(), ctx.outputs[2].data<T>(),
                         ctx.params<LayerNormParams>().epsilon, handle_of(ctx));
  });
}

void layer_norm_backward_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[1];
  const bool affine = ctx.inputs.size() == 5;
  dispatch_floating(x.dtype(), "layer_norm_backward", [&]<class T>() {
    launch_layer_norm_backward<T>(row_geom_of<LayerNormParams>(ctx, x), ctx.inputs[0].data<T>(), x.data<T>(),
                                  ctx.inputs[2].data<T>(), ctx.inputs[3].data<T>(),
                                  affine ? ctx.inputs[4].data<T>() : nullptr, ctx.outputs[0].data<T>(),
                                  affine ? ctx.outputs[1].data<T>() : nullptr,
                                  affine ? ctx.outputs[2].data<T>() : nullptr, handle_of(ctx));
  });
}

void gather_cuda(const KernelContext& ctx) {
  const Tensor &data = ctx.inputs[0], &indices = ctx.inputs[1];
  const GatherGeom g = gather_geom(data.shape(), ctx.params<GatherParams>().axis, indices.numel());
  // A copy: elements move as unsigned words of their size (four instantiations, not one per dtype).
  auto copy = [&]<class W>() {
    launch_gather<W>(g, static_cast<const W*>(data.raw_data()), indices.data<int64_t>(),
                     static_cast<W*>(ctx.outputs[0].raw_data()), handle_of(ctx));
  };
  switch (dtype_size(data.dtype())) {
    case 1: return copy.template operator()<uint8_t>();
    case 2: return copy.template operator()<uint16_t>();
    case 4: return copy.template operator()<uint32_t>();
    default: return copy.template operator()<uint64_t>();
  }
}

void gather_backward_cuda(const KernelContext& ctx) {
  const Tensor &grad = ctx.inputs[0], &indices = ctx.inputs[1];
  const GatherGeom g =
      gather_geom(ctx.outputs[0].shape(), ctx.params<GatherBackwardParams>().axis, indices.numel());
  dispatch_floating(grad.dtype(), "gather_backward", [&]<class T>() {
    launch_gather_backward<T>(g, grad.data<T>(), indices.data<int64_t>(), ctx.outputs[0].data<T>(), handle_of(ctx));
  });
}

AttentionGeom attention_geom_of(const KernelContext& ctx, const AttentionSlots& in, size_t mask_slot, const char* who) {
  const Shape* mask = ctx.inputs.size() > mask_slot ? &ctx.inputs[mask_slot].shape() : nullptr;
  const AttentionGeom g = attention_geom(ctx.inputs[in.q].shape(), ctx.inputs[in.k].shape(), ctx.inputs[in.v].shape(),
                                         mask, ctx.params<AttentionParams>());
  if (g.d > kMaxAttentionHeadDim || g.dv > kMaxAttentionHeadDim)
    throw ValueError(str_cat("[", who, "] the CUDA kernel takes head dims up to ", kMaxAttentionHeadDim, ", got q/k ",
                             g.d, " and v ", g.dv, "; split the heads further"));
  return g;
}

void attention_cuda(const KernelContext& ctx) {
  const AttentionSlots in(ctx.params<AttentionParams>());
  const AttentionGeom g = attention_geom_of(ctx, in, in.next, "scaled_dot_product_attention");
  dispatch_floating(ctx.inputs[0].dtype(), "scaled_dot_product_attention", [&]<class T>() {
    launch_attention<T>(g, ctx.inputs[in.q].data<T>(), ctx.inputs[in.k].data<T>(), ctx.inputs[in.v].data<T>(),
                        g.has_mask ? ctx.inputs[in.next].data<T>() : nullptr, ctx.outputs[0].data<T>(),
                        ctx.outputs[1].data<T>(), handle_of(ctx));
  });
}

// The packed layout's single dqkv is written by all three gradients (at their offsets).
// Inputs after q, k, v: out, lse, dout, then the mask and the cotangent of lse if given.
void attention_backward_cuda(const KernelContext& ctx) {
  const AttentionSlots in(ctx.params<AttentionParams>());
  const bool lse_grad = ctx.params<AttentionParams>().lse_grad;
  const bool has_mask = ctx.inputs.size() == in.next + 4 + (lse_grad ? 1 : 0);
  const AttentionGeom g =
      attention_geom_of(ctx, in, has_mask ? in.next + 3 : ctx.inputs.size(), "scaled_dot_product_attention_backward");
  dispatch_floating(ctx.inputs[0].dtype(), "scaled_dot_product_attention_backward", [&]<class T>() {
    T* delta = static_cast<T*>(stream_of(ctx).workspace(static_cast<size_t>(g.batch * g.l) * sizeof(T)));
    launch_attention_backward<T>(g, ctx.inputs[in.q].data<T>(), ctx.inputs[in.k].data<T>(), ctx.inputs[in.v].data<T>(),
                                 has_mask ? ctx.inputs[in.next + 3].data<T>() : nullptr,
                                 ctx.inputs[in.next].data<T>(), ctx.inputs[in.next + 1].data<T>(),
                                 lse_grad ? ctx.inputs.back().data<T>() : nullptr, ctx.inputs[in.next + 2].data<T>(),
                                 ctx.outputs[in.q].data<T>(), ctx.outputs[in.k].data<T>(), ctx.outputs[in.v].data<T>(),
                                 delta, handle_of(ctx));
  });
}

}  // namespace

void fill_transformer(KernelTable& t) {
  t.set(*op::layer_norm, layer_norm_cuda);
  t.set(*op::layer_norm_backward, layer_norm_backward_cuda);
  t.set(*op::gather, gather_cuda);
  t.set(*op::gather_backward, gather_backward_cuda);
  t.set(*op::scaled_dot_product_attention, attention_cuda);
  t.set(*op::scaled_dot_product_attention_backward, attention_backward_cuda);
}

}  // namespace dagrad::cuda
