// The CUDA glue of cast: both dtypes dispatched here, the pair's kernel in cast.cu.
#include "ops/builtin_ops.h"
#include "ops/cuda/glue.h"

namespace dagrad::cuda {

namespace {

void cast_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  dispatch_all(x.dtype(), [&]<class S>() {
    dispatch_all(y.dtype(), [&]<class D>() { launch_cast<S, D>(x.data<S>(), y.data<D>(), x.numel(), handle_of(ctx)); });
  });
}

}  // namespace

void fill_cast(KernelTable& t) { t.set(*op::cast, cast_cuda); }

}  // namespace dagrad::cuda
