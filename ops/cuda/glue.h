// Helpers of the CUDA glue (ops/cuda/*_ops.cpp): the KernelContext's CUDA stream, its
// workspace, strided views for kernels, and the per-family functions that fill the CUDA
// kernel table (ops/cuda/kernels.cpp calls them).
#pragma once
#include <cuda_runtime_api.h>

#include <vector>

#include "ops/cuda/kernels.h"
#include "ops/kernel_table.h"
#include "runtime/cuda/cuda_backend.h"

namespace dagrad::cuda {

inline CudaStream& stream_of(const KernelContext& ctx) { return cuda_stream(ctx.stream); }
inline cudaStream_t handle_of(const KernelContext& ctx) { return stream_of(ctx).handle(); }

// A view of `size` with `stride` per dim: size-1 dims dropped, neighbours merged where
// the strides chain. Throws InternalError beyond kMaxDims (after merging).
StridedView make_view(const std::vector<int64_t>& size, const std::vector<int64_t>& stride, const char* who);

void fill_cast(KernelTable& t);
void fill_reduce_shape(KernelTable& t);
void fill_linalg_conv(KernelTable& t);
void fill_nn_optim(KernelTable& t);
void fill_transformer(KernelTable& t);  // layer norm, gather, fused attention

}  // namespace dagrad::cuda
