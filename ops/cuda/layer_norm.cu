// Layer norm on CUDA over x viewed as [rows, cols]: one warp per row for the statistics,
// the output and dx (sums in double through a fixed butterfly); one thread per column
// for dgamma and dbeta, adding the rows in order. Deterministic.
#include "ops/cuda/device_utils.cuh"
#include "ops/cuda/transformer_kernels.h"

namespace dagrad::cuda {

namespace {

constexpr int kWarps = kBlock / 32;

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::clamp<int64_t>((rows + kWarps - 1) / kWarps, 1, kMaxBlocks));
}

#define DAGRAD_WARP_ROWS(r, rows)                                                                        \
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32; r < (rows); \
       r += static_cast<int64_t>(gridDim.x) * kWarps)

template <class T>
__global__ void layer_norm_kernel(RowGeom g, const T* x, const T* gamma, const T* beta, T* y, T* save_mean,
                                  T* save_invstd, double eps) {
  const int lane = threadIdx.x % 32;
  const double cols = static_cast<double>(g.cols);
  DAGRAD_WARP_ROWS(r, g.rows) {
    const T* xr = x + r * g.cols;
    T* yr = y + r * g.cols;
    double sum = 0;
    for (int64_t j = lane; j < g.cols; j += 32) sum += static_cast<double>(xr[j]);
    const T m = static_cast<T>(warp_reduce(sum, SumCombine{}) / cols);
    double sq = 0;
    for (int64_t j = lane; j < g.cols; j += 32) {
      const T d = xr[j] - m;
      sq += static_cast<double>(d * d);
    }
    const double invstd = 1.0 / ::sqrt(warp_reduce(sq, SumCombine{}) / cols + eps);
    const T is = static_cast<T>(invstd);
    if (lane == 0) {
      save_mean[r] = m;
      save_invstd[r] = is;
    }
    for (int64_t j = lane; j < g.cols; j += 32) {
      T v = (xr[j] - m) * is;
      if (gamma) v *= gamma[j];
      if (beta) v += beta[j];
      yr[j] = v;
    }
  }
}

// dx = invstd·(g' - Σg'/M - x̂·Σ(g'·x̂)/M), g' = dy·gamma, x̂ = (x - mean)·invstd.
template <class T>
__global__ void layer_norm_dx_kernel(RowGeom g, const T* dy, const T* x, const T* save_mean, const T* save_invstd,
                                     const T* gamma, T* dx) {
  const int lane = threadIdx.x % 32;
  const double cols = static_cast<double>(g.cols);
  DAGRAD_WARP_ROWS(r, g.rows) {
    const int64_t off = r * g.cols;
    const T m = save_mean[r], is = save_invstd[r];
    double s1 = 0, s2 = 0;
    for (int64_t j = lane; j < g.cols; j += 32) {
      const T gp = gamma ? dy[off + j] * gamma[j] : dy[off + j];
      s1 += static_cast<double>(gp);
      s2 += static_cast<double>(gp * ((x[off + j] - m) * is));
    }
    const T k1 = static_cast<T>(warp_reduce(s1, SumCombine{}) / cols);
    const T k2 = static_cast<T>(warp_reduce(s2, SumCombine{}) / cols);
    for (int64_t j = lane; j < g.cols; j += 32) {
      const T gp = gamma ? dy[off + j] * gamma[j] : dy[off + j];
      dx[off + j] = is * (gp - k1 - (x[off + j] - m) * is * k2);
    }
  }
}

// dgamma = Σ_rows dy·x̂, dbeta = Σ_rows dy, one column per thread.
template <class T>
__global__ void layer_norm_affine_grad_kernel(RowGeom g, const T* dy, const T* x, const T* save_mean,
                                              const T* save_invstd, T* dgamma, T* dbeta) {
  DAGRAD_GRID_STRIDE(j, g.cols) {
    double sg = 0, sb = 0;
    for (int64_t r = 0; r < g.rows; ++r) {
      const T d = dy[r * g.cols + j];
      sg += static_cast<double>(d * ((x[r * g.cols + j] - save_mean[r]) * save_invstd[r]));
      sb += static_cast<double>(d);
    }
    dgamma[j] = static_cast<T>(sg);
    dbeta[j] = static_cast<T>(sb);
  }
}

#undef DAGRAD_WARP_ROWS

}  // namespace

template <class T>
void launch_layer_norm(const RowGeom& g, const T* x, const T* gamma, const T* beta, T* y, T* save_mean,
                       T* save_invstd, double eps, cudaStream_t stream) {
  if (g.rows * g.cols == 0) return;
  layer_norm_kernel<<<row_blocks(g.rows), kBlock, 0, stream>>>(g, x, gamma, beta, y, save_mean, save_invstd, eps);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_layer_norm_backward(const RowGeom& g, const T* dy, const T* x, const T* save_mean, const T* save_invstd,
                                const T* gamma, T* dx, T* dgamma, T* dbeta, cudaStream_t stream) {
  if (g.rows * g.cols == 0) return;
  layer_norm_dx_kernel<<<row_blocks(g.rows), kBlock, 0, stream>>>(g, dy, x, save_mean, save_invstd, gamma, dx);
  DAGRAD_CUDA_LAUNCH_CHECK();
  if (!gamma) return;
  layer_norm_affine_grad_kernel<<<grid_for(g.cols), kBlock, 0, stream>>>(g, dy, x, save_mean, save_invstd, dgamma,
                                                                         dbeta);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_INSTANTIATE(T)                                                                                  \
  template void launch_layer_norm<T>(const RowGeom&, const T*, const T*, const T*, T*, T*, T*, double,         \
                                     cudaStream_t);                                                            \
  template void launch_layer_norm_backward<T>(const RowGeom&, const T*, const T*, const T*, const T*, const T*, \
                                              T*, T*, T*, cudaStream_t);
DAGRAD_INSTANTIATE(float)
DAGRAD_INSTANTIATE(double)
#undef DAGRAD_INSTANTIATE

}  // namespace dagrad::cuda
