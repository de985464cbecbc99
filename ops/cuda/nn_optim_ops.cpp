// CUDA kernels of the nn family (losses, accuracy, dropout, batch norm) and of the
// optimizer updates. Scalars that live in graph values (a loss gradient, the learning
// rate, Adam's step count) stay on the device: kernels read them there, so no step
// waits for the GPU.
#include <cuda_runtime_api.h>

#include "comm/communicator.h"
#include "ops/cuda/glue.h"
#include "ops/nn_math.h"
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

// The mask of (seed, run step, element) is the CPU's (ops/nn_math.h). Captured into a
// CUDA Graph, the kernel reads the step from the stream's replay slot instead, so
// every replay draws its own mask.
void dropout_cuda(const KernelContext& ctx) {
  const Attrs& attrs = ctx.node.attrs;
  const double p = attrs.get_float("p");
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  CudaStream& stream = stream_of(ctx);
  const cudaStream_t s = stream.handle();
  if (!attrs.get_bool_or("training", true) || p == 0.0) {
    if (x.nbytes() && x.raw_data() != y.raw_data())
      DAGRAD_CUDA_CHECK(cudaMemcpyAsync(y.raw_data(), x.raw_data(), x.nbytes(), cudaMemcpyDeviceToDevice, s));
    return;
  }
  const uint64_t seed = static_cast<uint64_t>(attrs.get_int_or("seed", 0));
  const uint64_t offset = static_cast<uint64_t>(attrs.get_int_or("offset", 0));
  const uint64_t* device_step = stream.capturing() ? stream.replay_step() : nullptr;
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    launch_dropout<T>(x.data<T>(), y.data<T>(), x.numel(), offset, seed, ctx.step, device_step, dropout_threshold(p),
                      static_cast<T>(1.0 / (1.0 - p)), s);
  });
}

BnGeom bn_geom(const Shape& x) {
  BnGeom g{x[0], x[1], 1};
  for (size_t i = 2; i < x.rank(); ++i) g.s *= x[i];
  return g;
}

void batch_norm_cuda(const KernelContext& ctx) {
  const Attrs& attrs = ctx.node.attrs;
  const Tensor& x = ctx.inputs[0];
  dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
    launch_batch_norm<T>(bn_geom(x.shape()), x.data<T>(), ctx.inputs[1].data<T>(), ctx.inputs[2].data<T>(),
                         ctx.inputs[3].data<T>(), ctx.inputs[4].data<T>(), ctx.outputs[0].data<T>(),
                         ctx.outputs[1].data<T>(), ctx.outputs[2].data<T>(), attrs.get_bool("training"),
                         attrs.get_float_or("momentum", 0.1), attrs.get_float_or("eps", 1e-5), handle_of(ctx));
  });
}

void batch_norm_backward_cuda(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[1];
  dispatch_floating(x.dtype(), "batch_norm_backward", [&]<class T>() {
    launch_batch_norm_backward<T>(bn_geom(x.shape()), ctx.inputs[0].data<T>(), x.data<T>(), ctx.inputs[2].data<T>(),
                                  ctx.inputs[3].data<T>(), ctx.inputs[4].data<T>(), ctx.outputs[0].data<T>(),
                                  ctx.outputs[1].data<T>(), ctx.outputs[2].data<T>(), handle_of(ctx));
  });
}

void sgd_cuda(const KernelContext& ctx) {
  const Attrs& a = ctx.node.attrs;
  const Tensor& param = ctx.inputs[0];
  const bool has_buf = ctx.inputs.size() == 4;
  dispatch_floating(param.dtype(), "sgd_update", [&]<class T>() {
    launch_sgd<T>(param.data<T>(), ctx.inputs[1].data<T>(), has_buf ? ctx.inputs[3].data<T>() : nullptr,
                  ctx.inputs[2].data<float>(), a.get_float_or("momentum", 0), a.get_float_or("weight_decay", 0),
                  a.get_bool_or("nesterov", false), param.numel(), handle_of(ctx));
  });
}

void adam_cuda(const KernelContext& ctx) {
  const Attrs& a = ctx.node.attrs;
  const Tensor& param = ctx.inputs[0];
  dispatch_floating(param.dtype(), "adam_update", [&]<class T>() {
    launch_adam<T>(param.data<T>(), ctx.inputs[1].data<T>(), ctx.inputs[3].data<T>(), ctx.inputs[4].data<T>(),
                   ctx.inputs[2].data<float>(), ctx.inputs[5].data<float>(), a.get_float_or("beta1", 0.9),
                   a.get_float_or("beta2", 0.999), a.get_float_or("eps", 1e-8), a.get_float_or("weight_decay", 0),
                   a.get_bool_or("decoupled", false), param.numel(), handle_of(ctx));
  });
}

}  // namespace

// out_i = (sum over ranks of in_i) / world through NCCL on the node's stream, the
// device's communicator over the process's ranks (comm::device_world); in the
// single-process world, a copy. NCCL is asked for whenever the world is not that one,
// so an MPI job of one rank runs the same path as a larger one.
void allreduce_mean_cuda(const KernelContext& ctx) {
  comm::Communicator& world = comm::world();
  CudaStream& stream = stream_of(ctx);
  const cudaStream_t s = stream.handle();
  const bool across = world.name() != "single";
  if (across && stream.capturing())
    throw DeviceError("[allreduce_mean] a CUDA Graph cannot capture the all-reduce across ranks (it waits for the "
                      "other ranks on the host); run data-parallel steps without graph replay");
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const Tensor& x = ctx.inputs[i];
    Tensor& y = ctx.outputs[i];
    if (x.nbytes() && x.raw_data() != y.raw_data())
      DAGRAD_CUDA_CHECK(cudaMemcpyAsync(y.raw_data(), x.raw_data(), x.nbytes(), cudaMemcpyDeviceToDevice, s));
    if (!across || y.numel() == 0) continue;
    comm::device_world(y.device().index).allreduce_sum(y.raw_data(), y.numel(), y.dtype(), &stream);
    if (world.world_size() == 1) continue;
    const double scale = 1.0 / world.world_size();
    const float scale_f = static_cast<float>(scale);
    DAGRAD_CUBLAS_CHECK(y.dtype() == DType::f32
                            ? cublas_api().sscal(stream.cublas(), y.numel(), &scale_f, y.data<float>(), 1)
                            : cublas_api().dscal(stream.cublas(), y.numel(), &scale, y.data<double>(), 1));
  }
}

void attach_nn_optim(OpRegistry& r) {
  set_cuda_kernel(r, "nll_loss", nll_loss_cuda);
  set_cuda_kernel(r, "nll_loss_backward", nll_loss_backward_cuda);
  set_cuda_kernel(r, "softmax_cross_entropy", softmax_cross_entropy_cuda);
  set_cuda_kernel(r, "softmax_cross_entropy_backward", softmax_cross_entropy_backward_cuda);
  set_cuda_kernel(r, "accuracy", accuracy_cuda);
  set_cuda_kernel(r, "dropout", dropout_cuda);
  set_cuda_kernel(r, "batch_norm", batch_norm_cuda);
  set_cuda_kernel(r, "batch_norm_backward", batch_norm_backward_cuda);
  set_cuda_kernel(r, "sgd_update", sgd_cuda);
  set_cuda_kernel(r, "adam_update", adam_cuda);
  set_cuda_kernel(r, "allreduce_mean", allreduce_mean_cuda);
}

}  // namespace dagrad::cuda
