// gather and its scatter-add adjoint on CUDA over data viewed as [outer, n, inner]. The
// adjoint gives each thread one column of a block of destination rows; it visits the
// indices in order and adds the rows that land in its block, so every sum runs in index
// order: deterministic, without atomics.
#include <type_traits>

#include "ops/cuda/device_utils.cuh"
#include "ops/cuda/transformer_kernels.h"

namespace dagrad::cuda {

namespace {

constexpr int64_t kRowsPerThread = 32;  // destination rows of one scatter-add thread

template <class T>
__device__ __forceinline__ T bad_value() {
  if constexpr (std::is_floating_point_v<T>)
    return quiet_nan<T>();
  else
    return T(0);
}

// The index as a row of [0, n), or -1 when out of range.
__device__ __forceinline__ int64_t row_of(int64_t t, int64_t n) {
  const int64_t row = t < 0 ? t + n : t;
  return row < 0 || row >= n ? -1 : row;
}

template <class T>
__global__ void gather_kernel(GatherGeom g, const T* data, const int64_t* indices, T* out) {
  DAGRAD_GRID_STRIDE(e, g.outer * g.count * g.inner) {
    const int64_t j = e % g.inner, r = e / g.inner, i = r % g.count, o = r / g.count;
    const int64_t row = row_of(indices[i], g.n);
    out[e] = row < 0 ? bad_value<T>() : data[(o * g.n + row) * g.inner + j];
  }
}

template <class T>
__global__ void gather_backward_kernel(GatherGeom g, const T* grad, const int64_t* indices, T* out) {
  const int64_t blocks = (g.n + kRowsPerThread - 1) / kRowsPerThread;
  DAGRAD_GRID_STRIDE(e, g.outer * blocks * g.inner) {
    const int64_t j = e % g.inner, rest = e / g.inner, blk = rest % blocks, o = rest / blocks;
    const int64_t first = blk * kRowsPerThread, last = min(g.n, first + kRowsPerThread);
    T* col = out + o * g.n * g.inner + j;
    for (int64_t t = first; t < last; ++t) col[t * g.inner] = T(0);
    bool bad = false;
    for (int64_t i = 0; i < g.count; ++i) {
      const int64_t row = row_of(indices[i], g.n);
      bad |= row < 0;
      if (row >= first && row < last) col[row * g.inner] += grad[(o * g.count + i) * g.inner + j];
    }
    if (bad)  // an index out of range poisons the whole gradient, which training reports
      for (int64_t t = first; t < last; ++t) col[t * g.inner] = quiet_nan<T>();
  }
}

}  // namespace

template <class T>
void launch_gather(const GatherGeom& g, const T* data, const int64_t* indices, T* out, cudaStream_t stream) {
  const int64_t n = g.outer * g.count * g.inner;
  if (n == 0) return;
  gather_kernel<<<grid_for(n), kBlock, 0, stream>>>(g, data, indices, out);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_gather_backward(const GatherGeom& g, const T* grad, const int64_t* indices, T* out, cudaStream_t stream) {
  const int64_t n = g.outer * ((g.n + kRowsPerThread - 1) / kRowsPerThread) * g.inner;
  if (n == 0) return;
  gather_backward_kernel<<<grid_for(n), kBlock, 0, stream>>>(g, grad, indices, out);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_INSTANTIATE_GATHER(T) \
  template void launch_gather<T>(const GatherGeom&, const T*, const int64_t*, T*, cudaStream_t);
DAGRAD_INSTANTIATE_GATHER(uint8_t)
DAGRAD_INSTANTIATE_GATHER(uint16_t)
DAGRAD_INSTANTIATE_GATHER(uint32_t)
DAGRAD_INSTANTIATE_GATHER(uint64_t)
#undef DAGRAD_INSTANTIATE_GATHER
template void launch_gather_backward<float>(const GatherGeom&, const float*, const int64_t*, float*, cudaStream_t);
template void launch_gather_backward<double>(const GatherGeom&, const double*, const int64_t*, double*, cudaStream_t);

}  // namespace dagrad::cuda
