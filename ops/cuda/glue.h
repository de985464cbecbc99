// Helpers of the CUDA glue (ops/cuda/*_ops.cpp): the KernelContext's CUDA stream, its
// workspace, strided views for kernels, and the per-family attach functions that
// attach_cuda_kernels.cpp calls.
#pragma once
#include <cuda_runtime_api.h>

#include <vector>

#include "ops/cuda/kernels.h"
#include "ops/op_def.h"
#include "runtime/cuda/cuda_backend.h"

namespace dagrad {
class OpRegistry;
}

namespace dagrad::cuda {

inline CudaStream& stream_of(const KernelContext& ctx) { return cuda_stream(ctx.stream); }
inline cudaStream_t handle_of(const KernelContext& ctx) { return stream_of(ctx).handle(); }

// A view of `size` with `stride` per dim: size-1 dims dropped, neighbours merged where
// the strides chain. Throws InternalError beyond kMaxDims (after merging).
StridedView make_view(const std::vector<int64_t>& size, const std::vector<int64_t>& stride, const char* who);

// Sets op `name`'s CUDA kernel.
void set_cuda_kernel(OpRegistry& r, const char* name, Kernel k);

void attach_elementwise(OpRegistry& r);
void attach_reduce_shape(OpRegistry& r);
void attach_linalg_conv(OpRegistry& r);
void attach_nn_optim(OpRegistry& r);

}  // namespace dagrad::cuda
