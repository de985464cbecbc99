// Reductions (sum, mean, max, prod, sum_to), softmax / log_softmax and argmax. Sums
// accumulate in double, as on the CPU. Every output is folded in an order fixed by the
// shapes (a block tree, or one thread's loop), long reductions in fixed chunks whose
// partials are combined in chunk order: results never depend on timing.
#include <cmath>

#include "ops/cuda/device_utils.cuh"
#include "ops/elementwise_math.h"

namespace dagrad::cuda {

namespace {

template <class T>
struct SumAcc {
  using Acc = double;
  __device__ static Acc identity() { return 0.0; }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static T finish(Acc a, double scale) { return static_cast<T>(a * scale); }
};

template <class T>
struct MaxAcc {
  using Acc = T;
  __device__ static Acc identity() { return -static_cast<T>(INFINITY); }
  __device__ static Acc combine(Acc a, Acc b) { return max_nan(a, b); }
  __device__ static T finish(Acc a, double) { return a; }
};

template <class T>
struct ProdAcc {
  using Acc = double;
  __device__ static Acc identity() { return 1.0; }
  __device__ static Acc combine(Acc a, Acc b) { return a * b; }
  __device__ static T finish(Acc a, double) { return static_cast<T>(a); }
};

// std::max's rule (the CPU's softmax uses it): the first of equal or unordered values.
struct PlainMax {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const { return a < b ? b : a; }
};

template <class Op>
struct OpCombine {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const { return Op::combine(a, b); }
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A block per output pays off for long contiguous runs; short ones (a max over the last
// dim of [N,C,H,W]) go one thread per output, which the caches serve well enough.
bool block_per_output(const ReduceGeom& g) { return g.inner_reduced && g.nred >= 4 * kBlock; }

// Long contiguous runs: one block per (output, chunk), threads striding over the
// chunk's reduced elements (loads coalesce).
template <class T, class Op>
__global__ void reduce_blocks_kernel(const T* x, T* out, typename Op::Acc* partial, ReduceGeom g, int64_t chunks,
                                     double scale) {
  using Acc = typename Op::Acc;
  const int64_t items = g.outs * chunks, len = (g.nred + chunks - 1) / chunks;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t o = item / chunks, c = item % chunks;
    const int64_t base = strided_offset(g.kept, o);
    const int64_t r1 = (c + 1) * len < g.nred ? (c + 1) * len : g.nred;
    Acc acc = Op::identity();
    for (int64_t r = c * len + threadIdx.x; r < r1; r += kBlock)
      acc = Op::combine(acc, static_cast<Acc>(x[base + strided_offset(g.reduced, r)]));
    acc = block_reduce<kBlock>(acc, OpCombine<Op>{});
    if (threadIdx.x == 0) {
      if (chunks == 1)
        out[o] = Op::finish(acc, scale);
      else
        partial[item] = acc;
    }
  }
}

// Everything else: one thread per (output, chunk), each folding its chunk in order.
// Where the unit-stride dim is kept, neighbouring threads read neighbouring elements.
template <class T, class Op>
__global__ void reduce_threads_kernel(const T* x, T* out, typename Op::Acc* partial, ReduceGeom g, int64_t chunks,
                                      double scale) {
  using Acc = typename Op::Acc;
  const int64_t len = (g.nred + chunks - 1) / chunks;
  DAGRAD_GRID_STRIDE(t, g.outs * chunks) {
    const int64_t c = t / g.outs, o = t % g.outs;
    const int64_t base = strided_offset(g.kept, o);
    const int64_t r1 = (c + 1) * len < g.nred ? (c + 1) * len : g.nred;
    Acc acc = Op::identity();
    for (int64_t r = c * len; r < r1; ++r) acc = Op::combine(acc, static_cast<Acc>(x[base + strided_offset(g.reduced, r)]));
    if (chunks == 1)
      out[o] = Op::finish(acc, scale);
    else
      partial[o * chunks + c] = acc;
  }
}

template <class T, class Op>
__global__ void combine_partials_kernel(const typename Op::Acc* partial, T* out, int64_t outs, int64_t chunks,
                                        double scale) {
  DAGRAD_GRID_STRIDE(o, outs) {
    typename Op::Acc acc = Op::identity();
    for (int64_t c = 0; c < chunks; ++c) acc = Op::combine(acc, partial[o * chunks + c]);
    out[o] = Op::finish(acc, scale);
  }
}

template <class T, class Op>
void reduce_typed(const T* x, T* out, const ReduceGeom& g, double scale, void* workspace, cudaStream_t stream) {
  using Acc = typename Op::Acc;
  const int64_t chunks = reduce_chunks(g);
  Acc* partial = static_cast<Acc*>(workspace);
  if (block_per_output(g)) {
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(g.outs * chunks, int64_t{1} << 20));
    reduce_blocks_kernel<T, Op><<<blocks, kBlock, 0, stream>>>(x, out, partial, g, chunks, scale);
  } else {
    reduce_threads_kernel<T, Op><<<grid_for(g.outs * chunks), kBlock, 0, stream>>>(x, out, partial, g, chunks, scale);
  }
  DAGRAD_CUDA_LAUNCH_CHECK();
  if (chunks > 1) {
    combine_partials_kernel<T, Op><<<grid_for(g.outs), kBlock, 0, stream>>>(partial, out, g.outs, chunks, scale);
    DAGRAD_CUDA_LAUNCH_CHECK();
  }
}

// ---- softmax along an axis: x viewed as [outer, n, inner] ----

constexpr int kWarpsPerBlock = kBlock / 32;

// inner == 1: one warp per row. exp in T, the sum in double, as on the CPU.
template <class T, bool kLog>
__global__ void softmax_rows_kernel(const T* x, T* y, int64_t rows, int64_t n) {
  const int lane = threadIdx.x % 32;
  const int64_t warp0 = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  for (int64_t r = warp0; r < rows; r += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T m = xr[0];
    for (int64_t j = lane; j < n; j += 32) m = m < xr[j] ? xr[j] : m;
    m = warp_reduce(m, PlainMax{});
    double s = 0;
    for (int64_t j = lane; j < n; j += 32) s += static_cast<double>(math::exp(xr[j] - m));
    s = warp_reduce(s, SumCombine{});
    if (kLog) {
      const T shift = m + static_cast<T>(::log(s));
      for (int64_t j = lane; j < n; j += 32) yr[j] = xr[j] - shift;
    } else {
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t j = lane; j < n; j += 32) yr[j] = math::exp(xr[j] - m) * inv;
    }
  }
}

// inner > 1: one thread per (outer, inner) column, neighbouring threads on neighbouring
// columns.
template <class T, bool kLog>
__global__ void softmax_columns_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  DAGRAD_GRID_STRIDE(t, outer * inner) {
    const int64_t o = t / inner, j = t % inner;
    const T* xc = x + o * n * inner + j;
    T* yc = y + o * n * inner + j;
    T m = xc[0];
    for (int64_t i = 1; i < n; ++i) m = m < xc[i * inner] ? xc[i * inner] : m;
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(math::exp(xc[i * inner] - m));
    if (kLog) {
      const T shift = m + static_cast<T>(::log(s));
      for (int64_t i = 0; i < n; ++i) yc[i * inner] = xc[i * inner] - shift;
    } else {
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t i = 0; i < n; ++i) yc[i * inner] = math::exp(xc[i * inner] - m) * inv;
    }
  }
}

// The first maximum wins; NaN counts as the maximum (as argmax on the CPU).
template <class T>
__global__ void argmax_kernel(const T* x, int64_t* out, int64_t outer, int64_t n, int64_t inner) {
  DAGRAD_GRID_STRIDE(t, outer * inner) {
    const int64_t o = t / inner, j = t % inner;
    const T* xc = x + o * n * inner + j;
    T best = xc[0];
    int64_t at = 0;
    for (int64_t i = 1; i < n; ++i) {
      const T v = xc[i * inner];
      if (v > best || (v != v && best == best)) best = v, at = i;
    }
    out[t] = at;
  }
}

}  // namespace

int64_t reduce_chunks(const ReduceGeom& g) {
  if (g.outs == 0 || g.nred == 0) return 1;
  // Enough blocks (or threads) to fill a large GPU, each with enough work to be worth it.
  const int64_t c = block_per_output(g) ? std::min(ceil_div(512, g.outs), ceil_div(g.nred, 8192))
                                        : std::min(ceil_div(65536, g.outs), ceil_div(g.nred, 64));
  return std::clamp<int64_t>(c, 1, 1024);
}

size_t reduce_workspace_bytes(const ReduceGeom& g) {
  const int64_t chunks = reduce_chunks(g);
  return chunks > 1 ? static_cast<size_t>(g.outs * chunks) * sizeof(double) : 0;
}

template <class T>
void launch_reduce(ReduceOp op, const T* x, T* out, const ReduceGeom& g, double scale, void* workspace,
                   cudaStream_t stream) {
  if (g.outs == 0) return;
  switch (op) {
    case ReduceOp::sum: return reduce_typed<T, SumAcc<T>>(x, out, g, scale, workspace, stream);
    case ReduceOp::max: return reduce_typed<T, MaxAcc<T>>(x, out, g, scale, workspace, stream);
    case ReduceOp::prod: return reduce_typed<T, ProdAcc<T>>(x, out, g, scale, workspace, stream);
  }
}

template <class T>
void launch_softmax(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log, cudaStream_t stream) {
  if (outer * n * inner == 0) return;
  if (inner == 1) {
    const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>(ceil_div(outer, kWarpsPerBlock), 1, kMaxBlocks));
    if (log)
      softmax_rows_kernel<T, true><<<blocks, kBlock, 0, stream>>>(x, y, outer, n);
    else
      softmax_rows_kernel<T, false><<<blocks, kBlock, 0, stream>>>(x, y, outer, n);
  } else if (log) {
    softmax_columns_kernel<T, true><<<grid_for(outer * inner), kBlock, 0, stream>>>(x, y, outer, n, inner);
  } else {
    softmax_columns_kernel<T, false><<<grid_for(outer * inner), kBlock, 0, stream>>>(x, y, outer, n, inner);
  }
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_argmax(const T* x, int64_t* out, int64_t outer, int64_t n, int64_t inner, cudaStream_t stream) {
  if (outer * inner == 0) return;
  argmax_kernel<<<grid_for(outer * inner), kBlock, 0, stream>>>(x, out, outer, n, inner);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_INSTANTIATE(T)                                                                               \
  template void launch_reduce<T>(ReduceOp, const T*, T*, const ReduceGeom&, double, void*, cudaStream_t);  \
  template void launch_softmax<T>(const T*, T*, int64_t, int64_t, int64_t, bool, cudaStream_t);            \
  template void launch_argmax<T>(const T*, int64_t*, int64_t, int64_t, int64_t, cudaStream_t);
DAGRAD_INSTANTIATE(float)
DAGRAD_INSTANTIATE(double)
#undef DAGRAD_INSTANTIATE

}  // namespace dagrad::cuda
