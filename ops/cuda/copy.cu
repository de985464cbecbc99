// The copy engine behind the shape ops and broadcast_to: a contiguous destination
// gathered from a strided view of the source, for elements of 1, 2, 4 or 8 bytes.
#include "ops/cuda/device_utils.cuh"
#include "runtime/error.h"

namespace dagrad::cuda {

namespace {

template <class E>
__global__ void strided_copy_kernel(const E* src, StridedView v, E* dst, int64_t n) {
  DAGRAD_GRID_STRIDE(i, n) dst[i] = src[strided_offset(v, i)];
}

template <class E>
void launch_typed(const void* src, const StridedView& v, void* dst, int64_t n, cudaStream_t stream) {
  strided_copy_kernel<<<grid_for(n), kBlock, 0, stream>>>(static_cast<const E*>(src), v, static_cast<E*>(dst), n);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

}  // namespace

void launch_strided_copy(const void* src, const StridedView& v, void* dst, int64_t n, int elem_size,
                         cudaStream_t stream) {
  if (n == 0) return;
  switch (elem_size) {
    case 1: return launch_typed<uint8_t>(src, v, dst, n, stream);
    case 2: return launch_typed<uint16_t>(src, v, dst, n, stream);
    case 4: return launch_typed<uint32_t>(src, v, dst, n, stream);
    case 8: return launch_typed<uint64_t>(src, v, dst, n, stream);
    default: throw InternalError(str_cat("strided copy of ", elem_size, "-byte elements"));
  }
}

}  // namespace dagrad::cuda
