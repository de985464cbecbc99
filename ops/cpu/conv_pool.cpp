// conv2d_max_pool2d on the CPU: the convolution runs on any of conv2d's paths
// (ops/cpu/conv.cpp) with an epilogue that consumes its images: each thread max-pools the
// image it just computed while it is in cache (in its scratch, or the direct kernels'
// padded rows as they are), so the full-size convolution output never goes to memory
// (bench/NOTES.md, stop 39).
#include <cstdint>

#include "ops/cpu/conv.h"
#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/pool.h"
#include "runtime/dtype.h"

namespace dagrad {

namespace {

template <class T>
void conv_then_pool(const KernelContext& ctx, const ConvGeom& g, const PoolGeom& pool) {
  T* y = ctx.outputs[0].data<T>();
  PoolIndex* idx = ctx.outputs[1].data<PoolIndex>();
  const int64_t conv_image = g.o * g.out_pixels(), pooled_image = g.o * pool.oh * pool.ow;
  PoolGeom one = pool;
  one.n = 1;
  // run(begin, end) is image n's range of the convolution's output, handed over on this thread.
  auto pool_image = [&](int64_t begin, int64_t) {
    const int64_t out = begin / conv_image * pooled_image;
    auto shifted = [&](int64_t b, int64_t e) { ctx.epilogue->run(out + b, out + e); };
    const Epilogue op_epilogue{shifted};
    const HandedPiece image = take_handed_piece();
    if (!image.data) throw InternalError("[conv2d_max_pool2d] the convolution's path did not hand over its image");
    const int64_t row = image.row_stride ? image.row_stride : g.ow;
    const int64_t plane = image.row_stride ? image.plane_stride : g.out_pixels();
    max_pool2d_planes(one, static_cast<const T*>(image.data), row, plane, y + out, idx + out,
                      ctx.epilogue ? &op_epilogue : nullptr);
  };
  const Epilogue consume{pool_image, false, true, true};
  const void* bias = ctx.inputs.size() > 2 ? ctx.inputs[2].raw_data() : nullptr;
  conv2d_forward(g, ctx.inputs[0].dtype(), ctx.inputs[0].raw_data(), ctx.inputs[1].raw_data(), bias, nullptr, &consume);
  if (!consume.applied) throw InternalError("[conv2d_max_pool2d] the convolution's path did not hand over its images");
  if (ctx.epilogue) ctx.epilogue->applied = true;
}

}  // namespace

void conv2d_max_pool2d_cpu(const KernelContext& ctx) {
  const ConvPoolParams& p = ctx.params<ConvPoolParams>();
  const ConvGeom g = conv_geom(ctx.inputs[0].shape(), ctx.inputs[1].shape(), p);
  if (g.n == 0) return;
  const PoolGeom pool = pool_geom(g.n, g.o, g.oh, g.ow, p.pool());
  dispatch_floating(ctx.outputs[0].dtype(), "conv2d_max_pool2d", [&]<class T>() { conv_then_pool<T>(ctx, g, pool); });
}

}  // namespace dagrad
