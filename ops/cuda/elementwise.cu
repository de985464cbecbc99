// Grid-stride launchers of the elementwise ops. The per-element math is the functors of
// ops/elementwise_math.h, the same ones the CPU kernels and the generated fused kernels
// run, so every backend computes the same function.
#include "ops/cuda/device_utils.cuh"
#include "ops/cuda/functor_list.h"
#include "ops/elementwise_math.h"

namespace dagrad::cuda {

namespace {

template <class F, class T>
__global__ void unary_kernel(F f, const T* x, T* y, int64_t n) {
  DAGRAD_GRID_STRIDE(i, n) y[i] = f(x[i]);
}

template <class F, class T>
__global__ void binary_flat_kernel(F f, const T* a, int64_t sa, const T* b, int64_t sb, T* out, int64_t n) {
  DAGRAD_GRID_STRIDE(i, n) out[i] = f(a[i * sa], b[i * sb]);
}

template <class F, class T>
__global__ void binary_broadcast_kernel(F f, const T* a, StridedView av, const T* b, StridedView bv, T* out,
                                        int64_t n) {
  DAGRAD_GRID_STRIDE(i, n) out[i] = f(a[strided_offset(av, i)], b[strided_offset(bv, i)]);
}

}  // namespace

template <class F, class T>
void launch_unary(F f, const T* x, T* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  unary_kernel<<<grid_for(n), kBlock, 0, stream>>>(f, x, y, n);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class F, class T>
void launch_binary_flat(F f, const T* a, int64_t sa, const T* b, int64_t sb, T* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  binary_flat_kernel<<<grid_for(n), kBlock, 0, stream>>>(f, a, sa, b, sb, out, n);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class F, class T>
void launch_binary_broadcast(F f, const T* a, const StridedView& av, const T* b, const StridedView& bv, T* out,
                             int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  binary_broadcast_kernel<<<grid_for(n), kBlock, 0, stream>>>(f, a, av, b, bv, out, n);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_INSTANTIATE_UNARY(F, NP)                                                  \
  template void launch_unary<F<float>, float>(F<float>, const float*, float*, int64_t, cudaStream_t); \
  template void launch_unary<F<double>, double>(F<double>, const double*, double*, int64_t, cudaStream_t);
#define DAGRAD_INSTANTIATE_BINARY_T(F, T)                                                                       \
  template void launch_binary_flat<F<T>, T>(F<T>, const T*, int64_t, const T*, int64_t, T*, int64_t, cudaStream_t); \
  template void launch_binary_broadcast<F<T>, T>(F<T>, const T*, const StridedView&, const T*, const StridedView&, \
                                                 T*, int64_t, cudaStream_t);
#define DAGRAD_INSTANTIATE_BINARY(F, NP) \
  DAGRAD_INSTANTIATE_BINARY_T(F, float)  \
  DAGRAD_INSTANTIATE_BINARY_T(F, double)

DAGRAD_CUDA_UNARY_FUNCTORS(DAGRAD_INSTANTIATE_UNARY)
DAGRAD_CUDA_BINARY_FUNCTORS(DAGRAD_INSTANTIATE_BINARY)

}  // namespace dagrad::cuda
