// Launch shapes and deterministic reductions shared by the .cu files. Reductions combine
// values in an order fixed by the launch shape alone (a shared-memory tree, or warp
// shuffles with fixed offsets), never by timing: results are the same on every run.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "ops/cuda/kernels.h"
#include "runtime/cuda/cuda_check.h"

namespace dagrad::cuda {

constexpr int kBlock = 256;           // threads per block of the grid-stride kernels
constexpr int64_t kMaxBlocks = 8192;  // enough to fill any current GPU; loops cover the rest

inline unsigned grid_for(int64_t n, int block = kBlock) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + block - 1) / block, 1, kMaxBlocks));
}

// Checks the launch that was just made (a bad configuration fails silently otherwise).
#define DAGRAD_CUDA_LAUNCH_CHECK() DAGRAD_CUDA_CHECK(cudaGetLastError())

// for (i = global thread; i < n; i += all threads)
#define DAGRAD_GRID_STRIDE(i, n)                                                              \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// The offset of flat index `i` of v's index space.
__device__ __forceinline__ int64_t strided_offset(const StridedView& v, int64_t i) {
  int64_t off = 0;
  for (int d = v.rank - 1; d > 0; --d) {
    const int64_t q = i / v.size[d];
    off += (i - q * v.size[d]) * v.stride[d];
    i = q;
  }
  return v.rank > 0 ? off + i * v.stride[0] : 0;
}

// NaN wins, as on the CPU (MaxOp in ops/cpu/reduce.cpp).
template <class T>
__device__ __forceinline__ T max_nan(T a, T b) {
  return (b > a || b != b) ? b : a;
}

struct SumCombine {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};
struct MaxCombine {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const { return max_nan(a, b); }
};

// Tree over the block's threads (blockDim.x == kThreads, a power of two); every
// thread gets the result. Safe to call repeatedly in one kernel.
template <int kThreads, class A, class Combine>
__device__ A block_reduce(A v, Combine comb) {
  __shared__ A buf[kThreads];
  __syncthreads();  // a previous call's readers are done
  buf[threadIdx.x] = v;
  __syncthreads();
#pragma unroll
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) buf[threadIdx.x] = comb(buf[threadIdx.x], buf[threadIdx.x + s]);
    __syncthreads();
  }
  return buf[0];
}

// Butterfly over the 32 lanes of a warp; every lane gets the result.
template <class A, class Combine>
__device__ __forceinline__ A warp_reduce(A v, Combine comb) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = comb(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// NaN quiet constant for integer-free code paths (bad targets).
template <class T>
__device__ __forceinline__ T quiet_nan() {
  return static_cast<T>(__longlong_as_double(0x7ff8000000000000ll));
}

}  // namespace dagrad::cuda
