// CUDA kernels of the nn family (losses, metrics, dropout, batch norm) and of the
// optimizer updates. Scalars that live in graph values (a loss gradient, the learning
// rate, Adam's step count) stay on the device: kernels read them there, so no step
// waits for the GPU.
#include <cuda_runtime_api.h>

#include "ops/builtin_ops.h"
#include "ops/cuda/glue.h"
#include "ops/nn_math.h"
#include "ops/params/optim.h"
#include "runtime/cuda/cuda_check.h"

namespace dagrad::cuda {

namespace {

struct Rows {
  int64_t n, c;
};
Rows rows_of(const Tensor& scores) { return {scores.shape()[0], scores.shape()[1]}; }

void nll_loss_cuda(const KernelContext& ctx) {
  const Tensor &lp = ctx.inputs[0], &target = ctx.inputs[1];
  const Rows r = rows_of(lp);
  dispatch_floating(lp.dtype(), "nll_loss", [&]<class T>() {
    launch_nll_loss<T>(lp.data<T>(), target.data<int64_t>(), ctx.outputs[0].data<T>(), r.n, r.c, handle_of(ctx));
  });
}

void nll_loss_backward_cuda(const KernelContext& ctx) {
  const Tensor &grad = ctx.inputs[0], &lp = ctx.inputs[1], &target = ctx.inputs[2];
  const Rows r = rows_of(lp);
  dispatch_floating(lp.dtype(), "nll_loss_backward", [&]<class T>() {
    launch_nll_loss_backward<T>(grad.data<T>(), target.data<int64_t>(), ctx.outputs[0].data<T>(), r.n, r.c,
                                handle_of(ctx));
  });
}

void softmax_cross_entropy_cuda(const KernelContext& ctx) {
  const Tensor &logits = ctx.inputs[0], &target = ctx.inputs[1];
  const Rows r = rows_of(logits);
  dispatch_floating(logits.dtype(), "softmax_cross_entropy", [&]<class T>() {
    launch_softmax_xent<T>(logits.data<T>(), target.data<int64_t>(), ctx.outputs[0].data<T>(), r.n, r.c,
                           handle_of(ctx));
  });
}

void softmax_cross_entropy_backward_cuda(const KernelContext& ctx) {
  const Tensor &grad = ctx.inputs[0], &logits = ctx.inputs[1], &target = ctx.inputs[2];
  const Rows r = rows_of(logits);
  dispatch_floating(logits.dtype(), "softmax_cross_entropy_backward", [&]<class T>() {
    launch_softmax_xent_backward<T>(grad.data<T>(), logits.data<T>(), target.data<int64_t>(),
                                    ctx.outputs[0].data<T>(), r.n, r.c, handle_of(ctx));
  });
}

void accuracy_cuda(const KernelContext& ctx) {
  const Tensor &logits = ctx.inputs[0], &target = ctx.inputs[1];
  const Rows r = rows_of(logits);
  dispatch_floating(logits.dtype(), "accuracy", [&]<class T>() {
    launch_accuracy<T>(logits.data<T>(), target.data<int64_t>(), ctx.outputs[0].data<float>(), r.n, r.c,
                       handle_of(ctx));
  });
}

void one_hot_cuda(const KernelContext& ctx) {
  const OneHotParams& p = ctx.params<OneHotParams>();
  const Tensor& idx = ctx.inputs[0];
  Tensor& out = ctx.outputs[0];
  auto launch = [&]<class I>() {
    const auto [outer, inner] = one_hot_layout(p, out.shape());
    switch (out.dtype()) {
      case DType::f32: return launch_one_hot<I, float>(idx.data<I>(), out.data<float>(), outer, p.depth, inner, p.negative_wraps, handle_of(ctx));
      case DType::f64: return launch_one_hot<I, double>(idx.data<I>(), out.data<double>(), outer, p.depth, inner, p.negative_wraps, handle_of(ctx));
      case DType::i64: return launch_one_hot<I, int64_t>(idx.data<I>(), out.data<int64_t>(), outer, p.depth, inner, p.negative_wraps, handle_of(ctx));
      default: throw TypeError(str_cat("[one_hot] the CUDA kernel writes float32, float64 or int64, not ", dtype_name(out.dtype())));
    }
  };
  if (idx.dtype() == DType::i64) launch.template operator()<int64_t>();
  else if (idx.dtype() == DType::i32) launch.template operator()<int32_t>();
  else throw TypeError(str_cat("[one_hot] the CUDA kernel reads int32 or int64 indices, not ", dtype_name(idx.dtype())));
}

// The CPU kernel refuses class ids outside [0, C); a kernel cannot throw, so here they
// are left out of the counts (the loss of such a batch is NaN, which the trainer reports).
void confusion_matrix_cuda(const KernelContext& ctx) {
  launch_confusion_matrix(ctx.inputs[0].data<int64_t>(), ctx.inputs[1].data<int64_t>(),
                          ctx.outputs[0].data<int64_t>(), ctx.inputs[0].numel(),
                          ctx.params<ConfusionParams>().num_classes, handle_of(ctx));
}

// The mask of (seed, run step, element) is the CPU's (ops/nn_math.h). Captured into a
// CUDA Graph, the kernel reads the step from the stream's replay slot instead, so
// every replay draws its own mask.
void dropout_cuda(const KernelContext& ctx) {
  const DropoutParams& params = ctx.params<DropoutParams>();
  const double p = params.p;
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  CudaStream& stream = stream_of(ctx);
  const cudaStream_t s = stream.handle();
  if (!params.training || p == 0.0) {
    if (x.nbytes() && x.raw_data() != y.raw_data())
      DAGRAD_CUDA_CHECK(cudaMemcpyAsync(y.raw_data(), x.raw_data(), x.nbytes(), cudaMemcpyDeviceToDevice, s));
    return;
  }
  const uint64_t seed = static_cast<uint64_t>(params.seed);
  const uint64_t offset = static_cast<uint64_t>(params.offset);
  const uint64_t* device_step = stream.capturing() ? stream.replay_step() : nullptr;
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    launch_dropout<T>(x.data<T>(), y.data<T>(), x.numel(), offset, seed, ctx.step, device_step, dropout_threshold(p),
                      static_cast<T>(1.0 / (1.0 - p)), s);
  });
}

void batch_norm_cuda(const KernelContext& ctx) {
  const BatchNormParams& p = ctx.params<BatchNormParams>();
  const Tensor& x = ctx.inputs[0];
  dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
    launch_batch_norm<T>(channel_geom(x.shape()), x.data<T>(), ctx.inputs[1].data<T>(), ctx.inputs[2].data<T>(),
                         ctx.inputs[3].data<T>(), ctx.inputs[4].data<T>(), ctx.outputs[0].data<T>(),
                         ctx.outputs[1].data<T>(), ctx.outputs[2].data<T>(), p.training, p.momentum, p.eps,
                         handle_of(ctx));
  });
}

void batch_norm_backward_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[1];
  dispatch_floating(x.dtype(), "batch_norm_backward", [&]<class T>() {
    launch_batch_norm_backward<T>(channel_geom(x.shape()), ctx.inputs[0].data<T>(), x.data<T>(), ctx.inputs[2].data<T>(),
                                  ctx.inputs[3].data<T>(), ctx.inputs[4].data<T>(), ctx.outputs[0].data<T>(),
                                  ctx.outputs[1].data<T>(), ctx.outputs[2].data<T>(), handle_of(ctx));
  });
}

void sgd_cuda(const KernelContext& ctx) {
  const SgdParams& a = ctx.params<SgdParams>();
  const Tensor& param = ctx.inputs[0];
  const bool has_buf = ctx.inputs.size() == 4;
  dispatch_floating(param.dtype(), "sgd_update", [&]<class T>() {
    launch_sgd<T>(param.data<T>(), ctx.inputs[1].data<T>(), has_buf ? ctx.inputs[3].data<T>() : nullptr,
                  ctx.inputs[2].data<float>(), a.momentum, a.weight_decay, a.nesterov, param.numel(), handle_of(ctx));
  });
}

void adam_cuda(const KernelContext& ctx) {
  const AdamParams& a = ctx.params<AdamParams>();
  const Tensor& param = ctx.inputs[0];
  dispatch_floating(param.dtype(), "adam_update", [&]<class T>() {
    launch_adam<T>(param.data<T>(), ctx.inputs[1].data<T>(), ctx.inputs[3].data<T>(), ctx.inputs[4].data<T>(),
                   ctx.inputs[2].data<float>(), ctx.inputs[5].data<float>(), a.beta1, a.beta2, a.eps, a.weight_decay,
                   a.decoupled_weight_decay, param.numel(), handle_of(ctx));
  });
}

}  // namespace

void fill_nn_optim(KernelTable& t) {
  t.set(*op::nll_loss, nll_loss_cuda);
  t.set(*op::nll_loss_backward, nll_loss_backward_cuda);
  t.set(*op::softmax_cross_entropy, softmax_cross_entropy_cuda);
  t.set(*op::softmax_cross_entropy_backward, softmax_cross_entropy_backward_cuda);
  t.set(*op::accuracy, accuracy_cuda);
  t.set(*op::confusion_matrix, confusion_matrix_cuda);
  t.set(*op::one_hot, one_hot_cuda);
  t.set(*op::dropout, dropout_cuda);
  t.set(*op::batch_norm, batch_norm_cuda);
  t.set(*op::batch_norm_backward, batch_norm_backward_cuda);
  t.set(*op::sgd_update, sgd_cuda);
  t.set(*op::adam_update, adam_cuda);
}

}  // namespace dagrad::cuda
