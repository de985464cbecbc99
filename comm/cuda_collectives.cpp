// allreduce_mean on CUDA: out_i = (sum over ranks of in_i) / world through NCCL on the
// node's stream, over the ranks of the node's communicator (Communicator::for_device); in
// the single-process world, a copy. NCCL is asked for whenever the communicator is not
// that one, so an MPI job of one rank runs the same path as a larger one.
#include <cuda_runtime_api.h>

#include "comm/collective_ops.h"
#include "ops/kernel_table.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/libraries.h"

namespace dagrad::comm {

namespace {

void allreduce_mean_cuda(const KernelContext& ctx) {
  Communicator& world = *ctx.params<AllreduceParams>().comm;
  cuda::CudaStream& stream = cuda::cuda_stream(ctx.stream);
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
    world.for_device(y.device().index).allreduce_sum(y.raw_data(), y.numel(), y.dtype(), &stream);
    if (world.world_size() == 1) continue;
    const double scale = 1.0 / world.world_size();
    const float scale_f = static_cast<float>(scale);
    DAGRAD_CUBLAS_CHECK(y.dtype() == DType::f32
                            ? cuda::cublas_api().sscal(stream.cublas(), y.numel(), &scale_f, y.data<float>(), 1)
                            : cuda::cublas_api().dscal(stream.cublas(), y.numel(), &scale, y.data<double>(), 1));
  }
}

}  // namespace

void fill_cuda_collectives(KernelTable& t, const OpDef& allreduce) { t.set(allreduce, allreduce_mean_cuda); }

}  // namespace dagrad::comm
