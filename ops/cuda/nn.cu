// The nn family on CUDA: classification losses and metrics (scores [N,C], int64
// targets), dropout with the CPU's counter-based mask, batch norm. Batch-wide sums run
// in one block (or one block per channel) through fixed trees: deterministic. A target
// outside [0, C) cannot throw from a kernel: it makes the result NaN, which the trainer
// reports as divergence.
#include "ops/cuda/device_utils.cuh"
#include "ops/elementwise_math.h"
#include "ops/nn_math.h"

namespace dagrad::cuda {

namespace {

constexpr int kWarps = kBlock / 32;

struct PlainMax {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const { return a < b ? b : a; }
};

__device__ __forceinline__ bool bad_target(int64_t t, int64_t c) { return t < 0 || t >= c; }

template <class T>
__global__ void nll_loss_kernel(const T* lp, const int64_t* target, T* out, int64_t n, int64_t c) {
  double acc = 0;
  int bad = 0;
  for (int64_t i = threadIdx.x; i < n; i += kBlock) {
    const int64_t t = target[i];
    if (bad_target(t, c))
      bad = 1;
    else
      acc -= static_cast<double>(lp[i * c + t]);
  }
  acc = block_reduce<kBlock>(acc, SumCombine{});
  bad = block_reduce<kBlock>(bad, MaxCombine{});
  if (threadIdx.x == 0) out[0] = bad ? quiet_nan<T>() : static_cast<T>(acc / static_cast<double>(n));
}

// -grad/N at each row's target, 0 elsewhere (a row with a bad target is NaN).
template <class T>
__global__ void nll_loss_backward_kernel(const T* grad, const int64_t* target, T* out, int64_t n, int64_t c) {
  const T v = static_cast<T>(-static_cast<double>(grad[0]) / static_cast<double>(n));
  DAGRAD_GRID_STRIDE(k, n * c) {
    const int64_t i = k / c, j = k % c, t = target[i];
    out[k] = bad_target(t, c) ? quiet_nan<T>() : (j == t ? v : T(0));
  }
}

// Row maximum and Σ exp(x - max) (in double) across one warp.
template <class T>
__device__ __forceinline__ void warp_max_sumexp(const T* r, int64_t c, int lane, T& m, double& s) {
  m = r[0];
  for (int64_t j = lane; j < c; j += 32) m = m < r[j] ? r[j] : m;
  m = warp_reduce(m, PlainMax{});
  s = 0;
  for (int64_t j = lane; j < c; j += 32) s += static_cast<double>(math::exp(r[j] - m));
  s = warp_reduce(s, SumCombine{});
}

// One block: warp w takes rows w, w + kWarps, ...; the warps' sums are added in order.
template <class T>
__global__ void softmax_xent_kernel(const T* x, const int64_t* target, T* out, int64_t n, int64_t c) {
  __shared__ double warp_sum[kWarps];
  __shared__ int warp_bad[kWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  double acc = 0;
  int bad = 0;
  for (int64_t i = warp; i < n; i += kWarps) {
    const T* r = x + i * c;
    T m;
    double s;
    warp_max_sumexp(r, c, lane, m, s);
    const int64_t t = target[i];
    if (bad_target(t, c))
      bad = 1;
    else
      acc += ::log(s) + static_cast<double>(m) - static_cast<double>(r[t]);
  }
  if (lane == 0) warp_sum[warp] = acc, warp_bad[warp] = bad;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0;
    int any_bad = 0;
    for (int w = 0; w < kWarps; ++w) total += warp_sum[w], any_bad |= warp_bad[w];
    out[0] = any_bad ? quiet_nan<T>() : static_cast<T>(total / static_cast<double>(n));
  }
}

// grad/N · (softmax(x) - onehot(target)), one warp per row, as the CPU computes it.
template <class T>
__global__ void softmax_xent_backward_kernel(const T* grad, const T* x, const int64_t* target, T* out, int64_t n,
                                             int64_t c) {
  const double scale = static_cast<double>(grad[0]) / static_cast<double>(n);
  const int lane = threadIdx.x % 32;
  const int64_t warp0 = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  for (int64_t i = warp0; i < n; i += static_cast<int64_t>(gridDim.x) * kWarps) {
    const T* r = x + i * c;
    T* o = out + i * c;
    T m;
    double s;
    warp_max_sumexp(r, c, lane, m, s);
    const int64_t t = target[i];
    const T k = static_cast<T>(scale / s);
    for (int64_t j = lane; j < c; j += 32) {
      T v = math::exp(r[j] - m) * k;
      if (j == t) v -= static_cast<T>(scale);
      o[j] = bad_target(t, c) ? quiet_nan<T>() : v;
    }
  }
}

// Ties go to the first maximum, as on the CPU.
template <class T>
__global__ void accuracy_kernel(const T* x, const int64_t* target, float* out, int64_t n, int64_t c) {
  long long hits = 0;
  int bad = 0;
  for (int64_t i = threadIdx.x; i < n; i += kBlock) {
    const T* r = x + i * c;
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (r[j] > r[best]) best = j;
    hits += best == target[i];
    bad |= bad_target(target[i], c);
  }
  hits = block_reduce<kBlock>(hits, SumCombine{});
  bad = block_reduce<kBlock>(bad, MaxCombine{});
  if (threadIdx.x == 0)
    out[0] = bad ? quiet_nan<float>() : static_cast<float>(static_cast<double>(hits) / static_cast<double>(n));
}

// counts[t][p] += 1 per sample (counts zeroed before); a pair outside [0, C) is not
// counted. Integer atomics: the counts do not depend on the order.
__global__ void confusion_matrix_kernel(const int64_t* predicted, const int64_t* target, int64_t* counts, int64_t n,
                                        int64_t c) {
  static_assert(sizeof(unsigned long long) == sizeof(int64_t));
  DAGRAD_GRID_STRIDE(i, n) {
    const int64_t t = target[i], p = predicted[i];
    if (!bad_target(t, c) && !bad_target(p, c))
      atomicAdd(reinterpret_cast<unsigned long long*>(counts + t * c + p), 1ull);
  }
}

// One Philox call per group of 4 elements, as random_bits (and the CPU kernel) draw them;
// element i has index offset + i, so an unaligned offset straddles groups.
template <class T>
__global__ void dropout_kernel(const T* x, T* y, int64_t n, uint64_t offset, uint64_t attr_seed, uint64_t step,
                               const uint64_t* device_step, uint32_t threshold, T scale) {
  const uint64_t seed = dropout_step_seed(attr_seed, device_step ? *device_step : step);
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const uint64_t first = offset / 4, groups = (offset + n + 3) / 4 - first;
  DAGRAD_GRID_STRIDE(q, static_cast<int64_t>(groups)) {
    const uint64_t g = first + static_cast<uint64_t>(q);
    const U32x4 r = philox4x32_10(U32x4{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), 0u, 0u}}, k0, k1);
    for (int j = 0; j < 4; ++j) {
      const uint64_t index = 4 * g + j;
      if (index < offset) continue;
      const int64_t i = static_cast<int64_t>(index - offset);
      if (i < n) y[i] = x[i] * (dropout_keep_bits(r.v[j], threshold) ? scale : T(0));
    }
  }
}

// ---- batch norm: one block per channel of x viewed as [N, C, S] ----

__device__ __forceinline__ int64_t bn_offset(const ChannelGeom& g, int64_t ch, int64_t m) {
  return (m / g.s * g.c + ch) * g.s + m % g.s;
}

template <class T>
__global__ void batch_norm_kernel(ChannelGeom g, const T* x, const T* gamma, const T* beta, T* running_mean,
                                  T* running_var, T* y, T* save_mean, T* save_invstd, bool training, double momentum,
                                  double eps) {
  const int64_t ch = blockIdx.x, count = g.n * g.s;
  double mean, var;
  if (training) {
    double sum = 0;
    for (int64_t m = threadIdx.x; m < count; m += kBlock) sum += static_cast<double>(x[bn_offset(g, ch, m)]);
    mean = block_reduce<kBlock>(sum, SumCombine{}) / static_cast<double>(count);
    const T mt = static_cast<T>(mean);
    double sq = 0;
    for (int64_t m = threadIdx.x; m < count; m += kBlock) {
      const T d = x[bn_offset(g, ch, m)] - mt;
      sq += static_cast<double>(d * d);
    }
    var = block_reduce<kBlock>(sq, SumCombine{}) / static_cast<double>(count);
    if (threadIdx.x == 0) {
      const double cnt = static_cast<double>(count);
      running_mean[ch] = static_cast<T>((1 - momentum) * static_cast<double>(running_mean[ch]) + momentum * mean);
      running_var[ch] =
          static_cast<T>((1 - momentum) * static_cast<double>(running_var[ch]) + momentum * var * cnt / (cnt - 1));
    }
  } else {
    mean = static_cast<double>(running_mean[ch]);
    var = static_cast<double>(running_var[ch]);
  }
  const double invstd = 1.0 / ::sqrt(var + eps);
  if (threadIdx.x == 0) {
    save_mean[ch] = static_cast<T>(mean);
    save_invstd[ch] = static_cast<T>(invstd);
  }
  const T mt = static_cast<T>(mean), a = static_cast<T>(static_cast<double>(gamma[ch]) * invstd), b = beta[ch];
  for (int64_t m = threadIdx.x; m < count; m += kBlock) {
    const int64_t off = bn_offset(g, ch, m);
    y[off] = (x[off] - mt) * a + b;
  }
}

// dbeta = Σ dy, dgamma = Σ dy·x̂, dx = gamma·invstd·(dy - dbeta/M - x̂·dgamma/M).
template <class T>
__global__ void batch_norm_backward_kernel(ChannelGeom g, const T* dy, const T* x, const T* gamma, const T* save_mean,
                                           const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const int64_t ch = blockIdx.x, count = g.n * g.s;
  const double invstd = static_cast<double>(save_invstd[ch]);
  const T mt = save_mean[ch];
  double sdy = 0, sdy_xm = 0;
  for (int64_t m = threadIdx.x; m < count; m += kBlock) {
    const int64_t off = bn_offset(g, ch, m);
    sdy += static_cast<double>(dy[off]);
    sdy_xm += static_cast<double>(dy[off] * (x[off] - mt));
  }
  sdy = block_reduce<kBlock>(sdy, SumCombine{});
  sdy_xm = block_reduce<kBlock>(sdy_xm, SumCombine{});
  const double dg = sdy_xm * invstd, cnt = static_cast<double>(count);
  if (threadIdx.x == 0) {
    dgamma[ch] = static_cast<T>(dg);
    dbeta[ch] = static_cast<T>(sdy);
  }
  const double k = static_cast<double>(gamma[ch]) * invstd;
  const T k_dy = static_cast<T>(k), k_xm = static_cast<T>(-k * invstd * dg / cnt), k_0 = static_cast<T>(-k * sdy / cnt);
  for (int64_t m = threadIdx.x; m < count; m += kBlock) {
    const int64_t off = bn_offset(g, ch, m);
    dx[off] = k_dy * dy[off] + k_xm * (x[off] - mt) + k_0;
  }
}

}  // namespace

template <class T>
void launch_nll_loss(const T* log_probs, const int64_t* target, T* out, int64_t n, int64_t c, cudaStream_t stream) {
  nll_loss_kernel<<<1, kBlock, 0, stream>>>(log_probs, target, out, n, c);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_nll_loss_backward(const T* grad, const int64_t* target, T* out, int64_t n, int64_t c,
                              cudaStream_t stream) {
  if (n * c == 0) return;
  nll_loss_backward_kernel<<<grid_for(n * c), kBlock, 0, stream>>>(grad, target, out, n, c);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_softmax_xent(const T* logits, const int64_t* target, T* out, int64_t n, int64_t c, cudaStream_t stream) {
  softmax_xent_kernel<<<1, kBlock, 0, stream>>>(logits, target, out, n, c);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_softmax_xent_backward(const T* grad, const T* logits, const int64_t* target, T* out, int64_t n, int64_t c,
                                  cudaStream_t stream) {
  if (n * c == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>((n + kWarps - 1) / kWarps, 1, kMaxBlocks));
  softmax_xent_backward_kernel<<<blocks, kBlock, 0, stream>>>(grad, logits, target, out, n, c);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class I, class T>
__global__ void one_hot_kernel(const I* index, T* out, int64_t depth, int64_t inner, bool wraps, int64_t total) {
  DAGRAD_GRID_STRIDE(t, total) {
    const int64_t i = t % inner, k = t / inner % depth, o = t / (inner * depth);
    int64_t v = static_cast<int64_t>(index[o * inner + i]);
    if (wraps && v < 0) v += depth;
    out[t] = v == k ? T(1) : T(0);
  }
}

template <class I, class T>
void launch_one_hot(const I* index, T* out, int64_t outer, int64_t depth, int64_t inner, bool negative_wraps,
                    cudaStream_t stream) {
  const int64_t total = outer * depth * inner;
  if (total == 0) return;
  one_hot_kernel<<<grid_for(total), kBlock, 0, stream>>>(index, out, depth, inner, negative_wraps, total);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_ONE_HOT(I, T) \
  template void launch_one_hot<I, T>(const I*, T*, int64_t, int64_t, int64_t, bool, cudaStream_t);
#define DAGRAD_ONE_HOT_OUT(I) DAGRAD_ONE_HOT(I, float) DAGRAD_ONE_HOT(I, double) DAGRAD_ONE_HOT(I, int64_t)
DAGRAD_ONE_HOT_OUT(int32_t)
DAGRAD_ONE_HOT_OUT(int64_t)
#undef DAGRAD_ONE_HOT_OUT
#undef DAGRAD_ONE_HOT

template <class T>
void launch_accuracy(const T* logits, const int64_t* target, float* out, int64_t n, int64_t c, cudaStream_t stream) {
  accuracy_kernel<<<1, kBlock, 0, stream>>>(logits, target, out, n, c);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

void launch_confusion_matrix(const int64_t* predicted, const int64_t* target, int64_t* counts, int64_t n, int64_t c,
                             cudaStream_t stream) {
  DAGRAD_CUDA_CHECK(cudaMemsetAsync(counts, 0, static_cast<size_t>(c * c) * sizeof(int64_t), stream));
  if (n == 0) return;
  confusion_matrix_kernel<<<grid_for(n), kBlock, 0, stream>>>(predicted, target, counts, n, c);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_dropout(const T* x, T* y, int64_t n, uint64_t offset, uint64_t seed, uint64_t step,
                    const uint64_t* device_step, uint32_t threshold, T scale, cudaStream_t stream) {
  if (n == 0) return;
  dropout_kernel<<<grid_for(n / 4 + 2), kBlock, 0, stream>>>(x, y, n, offset, seed, step, device_step, threshold,
                                                              scale);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_batch_norm(const ChannelGeom& g, const T* x, const T* gamma, const T* beta, T* running_mean, T* running_var,
                       T* y, T* save_mean, T* save_invstd, bool training, double momentum, double eps,
                       cudaStream_t stream) {
  if (g.c == 0) return;
  batch_norm_kernel<<<static_cast<unsigned>(g.c), kBlock, 0, stream>>>(g, x, gamma, beta, running_mean, running_var, y,
                                                                       save_mean, save_invstd, training, momentum, eps);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_batch_norm_backward(const ChannelGeom& g, const T* dy, const T* x, const T* gamma, const T* save_mean,
                                const T* save_invstd, T* dx, T* dgamma, T* dbeta, cudaStream_t stream) {
  if (g.c == 0) return;
  batch_norm_backward_kernel<<<static_cast<unsigned>(g.c), kBlock, 0, stream>>>(g, dy, x, gamma, save_mean,
                                                                                save_invstd, dx, dgamma, dbeta);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

#define DAGRAD_INSTANTIATE(T)                                                                                         \
  template void launch_nll_loss<T>(const T*, const int64_t*, T*, int64_t, int64_t, cudaStream_t);                     \
  template void launch_nll_loss_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, cudaStream_t);            \
  template void launch_softmax_xent<T>(const T*, const int64_t*, T*, int64_t, int64_t, cudaStream_t);                 \
  template void launch_softmax_xent_backward<T>(const T*, const T*, const int64_t*, T*, int64_t, int64_t,             \
                                                cudaStream_t);                                                        \
  template void launch_accuracy<T>(const T*, const int64_t*, float*, int64_t, int64_t, cudaStream_t);                 \
  template void launch_dropout<T>(const T*, T*, int64_t, uint64_t, uint64_t, uint64_t, const uint64_t*, uint32_t, T, \
                                  cudaStream_t);                                                                      \
  template void launch_batch_norm<T>(const ChannelGeom&, const T*, const T*, const T*, T*, T*, T*, T*, T*, bool, double,   \
                                     double, cudaStream_t);                                                           \
  template void launch_batch_norm_backward<T>(const ChannelGeom&, const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                              T*, cudaStream_t);
DAGRAD_INSTANTIATE(float)
DAGRAD_INSTANTIATE(double)
#undef DAGRAD_INSTANTIATE

}  // namespace dagrad::cuda
