// cast on CUDA: one grid-stride kernel per (source, destination) type pair, each element
// converted by runtime/convert.h, the function the CPU kernel runs.
#include "ops/cuda/device_utils.cuh"
#include "runtime/convert.h"

namespace dagrad::cuda {

namespace {

template <class S, class D>
__global__ void cast_kernel(const S* src, D* dst, int64_t n) {
  DAGRAD_GRID_STRIDE(i, n) dst[i] = convert<D>(src[i]);
}

}  // namespace

template <class S, class D>
void launch_cast(const S* src, D* dst, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  cast_kernel<S, D><<<grid_for(n), kBlock, 0, stream>>>(src, dst, n);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_CAST_PAIR(S, D) template void launch_cast<S, D>(const S*, D*, int64_t, cudaStream_t);
#define DAGRAD_CAST_FROM(S)                                                                                \
  DAGRAD_CAST_PAIR(S, float) DAGRAD_CAST_PAIR(S, double) DAGRAD_CAST_PAIR(S, bfloat16)                     \
  DAGRAD_CAST_PAIR(S, float16) DAGRAD_CAST_PAIR(S, bool) DAGRAD_CAST_PAIR(S, int8_t)                       \
  DAGRAD_CAST_PAIR(S, int16_t) DAGRAD_CAST_PAIR(S, int32_t) DAGRAD_CAST_PAIR(S, int64_t)                   \
  DAGRAD_CAST_PAIR(S, uint8_t) DAGRAD_CAST_PAIR(S, uint16_t) DAGRAD_CAST_PAIR(S, uint32_t)                 \
  DAGRAD_CAST_PAIR(S, uint64_t)
DAGRAD_CAST_FROM(float)
DAGRAD_CAST_FROM(double)
DAGRAD_CAST_FROM(bfloat16)
DAGRAD_CAST_FROM(float16)
DAGRAD_CAST_FROM(bool)
DAGRAD_CAST_FROM(int8_t)
DAGRAD_CAST_FROM(int16_t)
DAGRAD_CAST_FROM(int32_t)
DAGRAD_CAST_FROM(int64_t)
DAGRAD_CAST_FROM(uint8_t)
DAGRAD_CAST_FROM(uint16_t)
DAGRAD_CAST_FROM(uint32_t)
DAGRAD_CAST_FROM(uint64_t)
#undef DAGRAD_CAST_FROM
#undef DAGRAD_CAST_PAIR

}  // namespace dagrad::cuda
